//! Everything specific to GitHub Actions tokens: the claim shape and the policy checks.

mod checks;
mod claims;
mod raw;

pub(crate) use checks::check_policy;
pub use claims::GitHubClaims;
pub(crate) use claims::RawClaims;
