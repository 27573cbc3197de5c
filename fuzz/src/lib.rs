//! What the fuzz targets share: a fixed RSA key and the verifier built on it, the policies and
//! the clock the targets verify against, reference models the targets check results with, and
//! a poll-only executor.
//!
//! The key is fixed (`keys/fuzz-rsa2048.pem`, test material generated for this harness only)
//! rather than taken from `ci-fixtures`, whose keys are generated per process: a corpus token
//! signed in one run must still verify in the next, or the corpus stops reaching the claims
//! code. The corpus is written at a fixed epoch for the same reason; the verifier's time checks
//! read the system clock, so JWT times are moved onto it (`jwt::rebase`).

pub mod checks;
pub mod cookie;
pub mod exec;
pub mod jwt;
pub mod reference;
