//! The kit every CI-in-preview endpoint shares, so that no endpoint can be reached without the
//! guard chain and every endpoint answers the HTTP contract of `CONTRACT.md` §2 the same way.
//!
//! The pieces, in the order a request meets them:
//!
//! 1. The deployment-environment guard: [`app`] builds the endpoint routers only when the
//!    deployment's environment is one the [`Policy`] serves CI routes in. Anywhere else (production,
//!    unset, unknown) the router is a single fallback answering `404 Not Found`, so there is nothing
//!    to reach and nothing is read from the request.
//! 2. [`VerifiedCaller`]: reads `x-github-oidc-token`, verifies it against the endpoint's
//!    [`ci_oidc::EndpointPolicy`], logs why a token was refused, and answers 401/403/503. Only this
//!    crate can construct one, so a handler that takes it cannot skip the checks. It also runs
//!    the checks a policy may add: [`binding`] (`bind_deployment`) and [`replay`] (`single_use`).
//! 3. [`JsonBody`]: the body, limited (64 KiB by default, 413) and parsed (400).
//! 4. [`CiError`]: the one error type, whose bodies are the contract's byte for byte.
//!
//! An endpoint crate exports an [`Endpoint`]: a name, whether it is ready (its secret is present),
//! and an `axum::Router<EndpointState>` serving `/`. The kit nests it at `/api/~/ci/{name}`.
//!
//! ```
//! use axum::{Json, Router, routing::post};
//! use ci_endpoint::{CiError, Endpoint, EndpointState, JsonBody, VerifiedCaller};
//!
//! #[derive(serde::Deserialize)]
//! struct Request { flags: serde_json::Map<String, serde_json::Value> }
//!
//! async fn handle(
//!     caller: VerifiedCaller,
//!     JsonBody(body): JsonBody<Request>,
//! ) -> Result<Json<serde_json::Value>, CiError> {
//!     let _ = caller.claims().repository.as_deref();
//!     Ok(Json(serde_json::json!({ "count": body.flags.len() })))
//! }
//!
//! pub fn endpoint() -> Endpoint {
//!     Endpoint::new("examples/count", true, Router::<EndpointState>::new().route("/", post(handle)))
//! }
//! # let _ = endpoint();
//! ```
//!
//! Endpoint-specific state (a secret, a client) is captured by the handler closure or added with
//! an `axum::Extension` layer; the router's own state is always the kit's [`EndpointState`].

mod app;
pub mod binding;
mod body;
mod caller;
mod deployment;
mod error;
mod guards;
mod health;
mod policy;
pub mod replay;
mod tilde;

pub use app::{AppOptions, Endpoint, EndpointState, StartupError, app, app_with};
pub use body::{BodyLimit, DEFAULT_BODY_LIMIT, JsonBody};
pub use caller::VerifiedCaller;
pub use deployment::Deployment;
pub use error::CiError;
pub use policy::{DEFAULT_SERVE_IN, Policy, PolicyError};
pub use replay::{ReplayError, ReplayStore};

/// Every CI route lives under this prefix; the health route is `{CI_PREFIX}/health`.
pub const CI_PREFIX: &str = "/api/~/ci";

/// The request header carrying the GitHub Actions OIDC token (the prototype's name, kept).
pub const TOKEN_HEADER: &str = "x-github-oidc-token";

/// The path of an endpoint's route: `/api/~/ci/{name}`.
pub fn endpoint_path(name: &str) -> String {
    format!("{CI_PREFIX}/{name}")
}
