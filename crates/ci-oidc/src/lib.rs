//! Verification of GitHub Actions OIDC tokens against a per-endpoint policy.
//!
//! This crate decides whether a token may call an endpoint; it knows nothing of HTTP servers.
//! Give it the issuer's keys ([`KeyStore`]), build a [`Verifier`], and call
//! [`Verifier::verify`] with the token (a [`SecretString`]) and the endpoint's
//! [`EndpointPolicy`]. The answer is the typed [`GitHubClaims`] or a [`Rejection`] naming the
//! failing check, the expected and the actual value, and the contract's [`Reason`].
//!
//! The signature is checked by `jsonwebtoken`; the registered claims are checked here, at least
//! as strictly as that library does, in the one parse of the payload (`registered.rs` says why),
//! with what a verifier of GitHub tokens needs around them. Every public item is exported here, once.
//! Modules, one concern each: `crypto` (the build's one crypto backend, `aws-lc` or `ring` by
//! Cargo feature, and the library's provider with keys parsed once), `header` (size, shape, header allowlist), `keystore` (JWKS
//! loading, fetching, refresh), `registered` (`iss`, `aud`, `exp`, `nbf`, `iat` and the
//! lifetime), `github` (claim types and policy checks), `policy`, `config`, `rejection`, `secret`,
//! `verifier`.

mod config;
mod crypto;
mod github;
mod header;
mod header_cache;
mod keystore;
mod policy;
mod registered;
mod rejection;
mod secret;
mod verifier;

pub use config::{GITHUB_ACTIONS_ISSUER, IssuerConfig, UrlError};
pub use crypto::{CRYPTO_BACKEND, install_crypto_provider, sha256};
pub use github::GitHubClaims;
pub use keystore::{KeyStore, KeyStoreError, KeyStoreOptions, SkippedKey};
pub use policy::{
    DEFAULT_COOKIE_MAX_AGE_SECS, DEFAULT_EVENTS, EndpointPolicy, MAX_COOKIE_MAX_AGE_SECS,
    MIN_COOKIE_MAX_AGE_SECS, OWNER_IDS_HOWTO, PolicyError, WorkflowClaim,
};
pub use registered::{LEEWAY_SECS, MAX_LIFETIME_SECS, TimeRules};
pub use rejection::{Reason, Rejection, RejectionKind};
pub use secret::SecretString;
pub use verifier::{Verifier, unix_now};
