//! Verification of GitHub Actions OIDC tokens against a per-endpoint policy.
//!
//! This crate decides whether a token may call an endpoint; it knows nothing of HTTP servers.
//! Give it the issuer's keys ([`KeyStore`]), build a [`Verifier`], and call
//! [`Verifier::verify`] with the token (a [`SecretString`]) and the endpoint's
//! [`EndpointPolicy`]. The answer is the typed [`GitHubClaims`] or a [`Rejection`] naming the
//! failing check, the expected and the actual value, and the contract's [`Reason`].
//!
//! Layout, one concern per module: [`unverified`] (compact JWS parsing, header rules),
//! [`keystore`] (JWKS loading, fetching, refresh), [`registered`] (`iss`, `aud`, times),
//! [`github`] (claim types and policy checks), [`policy`], [`config`], [`rejection`],
//! [`secret`], [`verifier`].

pub mod config;
pub mod github;
mod header_cache;
pub mod keystore;
pub mod policy;
pub mod registered;
pub mod rejection;
pub mod secret;
pub mod unverified;
pub mod verifier;

pub use config::{GITHUB_ACTIONS_ISSUER, IssuerConfig, UrlError};
pub use github::GitHubClaims;
pub use keystore::{KeyStore, KeyStoreError, KeyStoreOptions, SkippedKey};
pub use policy::{
    DEFAULT_COOKIE_MAX_AGE_SECS, DEFAULT_DENIED_EVENTS, EndpointPolicy, MAX_COOKIE_MAX_AGE_SECS,
    MIN_COOKIE_MAX_AGE_SECS, PolicyError, WorkflowClaim,
};
pub use registered::{LEEWAY_SECS, MAX_LIFETIME_SECS, TimeRules};
pub use rejection::{Reason, Rejection, RejectionKind};
pub use secret::SecretString;
pub use verifier::{Verifier, unix_now};
