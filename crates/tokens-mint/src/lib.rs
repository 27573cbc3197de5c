//! The `tokens/mint` CI endpoint: short-lived JWTs for test users, signed in the preview with the
//! key the app verifies (an `HS256` secret such as a Supabase JWT secret, or an RS256, ES256 or
//! EdDSA private key), so CI needs no long-lived test-user tokens or personal access tokens.
//!
//! The policy entry decides everything a token says ([`MintConfig`]: test subjects, fixed or
//! templated claims, the claims a caller may add, the lifetime cap); the caller picks a subject
//! from the allowlist and, within the cap, a lifetime. The key and its algorithm come from the
//! preview's environment ([`KEY_VAR`], [`ALGORITHM_VAR`]) and are parsed at start-up.

#![warn(missing_docs, unreachable_pub)]

mod config;
mod endpoint;
mod key;

pub use config::{
    CALLER_FIELDS, DEFAULT_TOKEN_MAX_AGE, MAX_TOKEN_MAX_AGE, MintConfig, REGISTERED_CLAIMS,
    RESERVED_CLAIMS,
};
pub use endpoint::{NAME, endpoint, endpoint_with};
pub use key::{ALGORITHM_VAR, KEY_VAR, MIN_HS256_SECRET_LEN, MintAlgorithm, MintKey};
