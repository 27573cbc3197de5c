//! The kit every CI-in-preview endpoint shares, so that no endpoint can be reached without the
//! guard chain and every endpoint answers the HTTP contract of `CONTRACT.md` §2 the same way.
//!
//! The pieces, in the order a request meets them:
//!
//! 1. The deployment-environment guard: [`server::app`] builds the endpoint routers only when the
//!    deployment's environment is one the [`server::Policy`] serves CI routes in. Anywhere else (production,
//!    unset, unknown) the router is a single fallback answering `404 Not Found`, so there is nothing
//!    to reach and nothing is read from the request.
//! 2. [`VerifiedCaller`]: reads `x-github-oidc-token`, verifies it against the endpoint's
//!    [`ci_oidc::EndpointPolicy`], logs why a token was refused, and answers 401/403/503. Only this
//!    crate can construct one, so a handler that takes it cannot skip the checks. It also runs
//!    the checks a policy may add: `bind_deployment` and `single_use` ([`server::replay`]).
//! 3. [`VerifiedJson`]: for a handler that takes a body, the caller as above and the body,
//!    limited (64 KiB by default, 413), parsed (400) and checked by its [`RequestBody::validate`]
//!    before a `single_use` token is spent, so a refused body leaves the token unspent.
//! 4. [`CiError`]: the one error type, whose bodies are the contract's byte for byte.
//!
//! An endpoint crate exports an [`Endpoint`]: a name, the handler of its path, the variables
//! holding its secrets ([`Endpoint::with_secret`], [`Secret`]), its typed settings from its policy
//! entry ([`Endpoint::with_config`], [`Config`]) and, if it deletes data, the
//! [`Endpoint::destructive`] mark. The kit nests it at `/api/~/ci/{name}`, reads and validates
//! secrets and settings at start-up (malformed stops start-up; a missing secret lists the endpoint
//! `ready:false` and [`Secret::get`] answers 500 `misconfigured`), and runs each request in one
//! span carrying `endpoint` and, once [`VerifiedCaller`] has verified the token, `repository`,
//! `repository_id`, `workflow_ref`, `event_name` and `run_id`: a handler's log lines carry them
//! without repeating them.
//!
//! ```
//! use axum::{Json, routing::post};
//! use ci_endpoint::{CiError, Endpoint, RequestBody, Secret, VerifiedJson};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Request { flags: serde_json::Map<String, serde_json::Value> }
//! impl RequestBody for Request {} // no check beyond the type
//!
//! struct Key(String);
//!
//! async fn handle(
//!     key: Secret<Key>,
//!     VerifiedJson { body, .. }: VerifiedJson<Request>,
//! ) -> Result<Json<serde_json::Value>, CiError> {
//!     let key = key.get()?; // 500 `misconfigured` when the deployment has no EXAMPLE_KEY
//!     tracing::info!(count = body.flags.len(), "counted"); // endpoint, repository, … come from the span
//!     Ok(Json(serde_json::json!({ "count": body.flags.len(), "key_len": key.0.len() })))
//! }
//!
//! pub fn endpoint() -> Endpoint {
//!     Endpoint::new("examples/count", post(handle))
//!         .with_secret("EXAMPLE_KEY", |text| Ok(Key(text.trim().to_owned())))
//! }
//! # let _ = endpoint();
//! ```
//!
//! The root holds what an endpoint author uses: the extractors ([`VerifiedCaller`],
//! [`VerifiedJson`] with [`RequestBody`] and [`BodyContext`], [`Secret`], [`Config`]), [`Endpoint`], [`CiError`], the key-value client ([`KvClient`]) and
//! [`Redacted`] for secret-holding types. [`server`] holds the wiring binaries and tests use.
//! `system-docs/ENDPOINT-KIT.md` shows each name with an example.

#![warn(missing_docs, unreachable_pub)]

mod app;
mod audit;
mod binding;
mod body;
mod caller;
mod config;
mod deployment;
mod endpoint;
mod error;
mod guards;
mod health;
mod kv;
mod policy;
mod redacted;
mod secret;
pub mod server;
mod span;
mod stealth;
mod tilde;
mod verified_json;

pub use audit::{AUDIT_TARGET, SummaryValue};
pub use body::{BodyLimit, DEFAULT_BODY_LIMIT};
pub use caller::VerifiedCaller;
pub use config::{Config, ConfigError, EndpointConfig};
pub use endpoint::Endpoint;
pub use error::CiError;
pub use kv::{DEFAULT_KV_TIMEOUT, KvClient, KvError};
pub use redacted::Redacted;
/// The Redis client library [`KvClient`] speaks through, so commands (`redis::cmd("DEL")`) are
/// built with the version the kit uses.
pub use redis;
pub use secret::Secret;
pub use verified_json::{BodyContext, RequestBody, VerifiedJson};

// Crate-internal shorthands for the wiring types (their public path is `server::`).
use deployment::Deployment;
use endpoint::EndpointState;

/// Every CI route lives under this prefix; the health route is `{CI_PREFIX}/health`.
pub const CI_PREFIX: &str = "/api/~/ci";

/// The request header carrying the GitHub Actions OIDC token (the prototype's name, kept).
pub const TOKEN_HEADER: &str = "x-github-oidc-token";

/// The path of an endpoint's route: `/api/~/ci/{name}`.
pub fn endpoint_path(name: &str) -> String {
    format!("{CI_PREFIX}/{name}")
}
