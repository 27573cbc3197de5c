//! Everything specific to GitHub Actions tokens: the claim shape and the policy checks.

pub mod checks;
pub mod claims;
mod raw;

pub use claims::GitHubClaims;
