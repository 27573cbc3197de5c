//! Everything specific to GitHub Actions tokens: the claim shape and the policy checks.

pub mod checks;
pub mod claims;

pub use claims::GitHubClaims;
