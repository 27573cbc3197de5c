//! The `flags/encrypt-override` endpoint: a verified CI caller posts
//! `{"flags":{…},"maxAge":N?}` and gets back `{"cookie":"…","expires":T}`, a
//! `vercel-flag-overrides` value the Flags SDK accepts until `T` (Unix seconds), without ever
//! holding `FLAGS_SECRET`.
//!
//! The kit has already refused production (404), bad tokens (401/403) and oversized or non-JSON
//! bodies (413/400) by the time the handler runs; the handler then checks, in the contract's
//! order: `flags` is an object (400), `maxAge` is absent or a positive integer (400) no longer
//! than the policy's `cookie_max_age` (400 `max_age_too_long`), the cookie fits in a browser (400
//! `cookie_too_large`), the secret is configured (500 `misconfigured`).
//!
//! Why a short lifetime: the SDK's default is a year, and CI cookies end up in traces, HAR files
//! and reports. A cookie minted for a CI run lives as long as the run (policy default two hours).

use std::ffi::OsString;
use std::sync::Arc;

use axum::{Json, Router, routing::post};
use ci_endpoint::{CiError, Endpoint, EndpointState, JsonBody, StartupError, VerifiedCaller};
use serde_json::{Map, Value, json};

use crate::codec::{self, FlagsSecret, MAX_TOKEN_LEN};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "flags/encrypt-override";
/// The environment variable holding the Flags SDK secret.
pub const SECRET_VAR: &str = "FLAGS_SECRET";

/// The endpoint with `secret`, or not ready (health says `ready:false`, requests answer 500
/// `misconfigured`) when there is none.
pub fn endpoint(secret: Option<FlagsSecret>) -> Endpoint {
    let ready = secret.is_some();
    let secret = secret.map(Arc::new);
    let router = Router::<EndpointState>::new().route(
        "/",
        post(
            move |caller: VerifiedCaller, JsonBody(body): JsonBody<Value>| {
                let secret = secret.clone();
                async move { encrypt_override(secret.as_deref(), &caller, body) }
            },
        ),
    );
    Endpoint::new(NAME, ready, router)
}

/// The endpoint configured from `FLAGS_SECRET`: missing or empty makes it not ready; a value
/// that is not a 32-byte key stops start-up with a message saying how to make one.
pub fn endpoint_from_env() -> Result<Endpoint, StartupError> {
    endpoint_from_var(std::env::var_os(SECRET_VAR))
}

/// [`endpoint_from_env`] with the variable's value passed in (tests cannot safely set variables).
pub fn endpoint_from_var(value: Option<OsString>) -> Result<Endpoint, StartupError> {
    let Some(value) = value else {
        tracing::warn!(
            endpoint = NAME,
            "{SECRET_VAR} is not set: the endpoint answers 500 misconfigured"
        );
        return Ok(endpoint(None));
    };
    let Some(text) = value.to_str() else {
        return Err(StartupError::config(SECRET_VAR, "is not valid UTF-8"));
    };
    if text.trim().is_empty() {
        tracing::warn!(
            endpoint = NAME,
            "{SECRET_VAR} is empty: the endpoint answers 500 misconfigured"
        );
        return Ok(endpoint(None));
    }
    let secret =
        FlagsSecret::parse(text).map_err(|e| StartupError::config(SECRET_VAR, e.problem()))?;
    Ok(endpoint(Some(secret)))
}

fn encrypt_override(
    secret: Option<&FlagsSecret>,
    caller: &VerifiedCaller,
    body: Value,
) -> Result<Json<Value>, CiError> {
    let claims = caller.claims();
    // Like the prototype: the body must be an object whose `flags` is an object; any other key
    // is ignored, and `flags` keeps the caller's key order.
    let Value::Object(mut body) = body else {
        return Err(CiError::bad_request());
    };
    let Some(Value::Object(flags)) = body.remove("flags") else {
        tracing::info!(
            endpoint = NAME,
            repository = claims.repository.as_deref(),
            run_id = claims.run_id.as_deref(),
            "request refused: `flags` is missing or not an object"
        );
        return Err(CiError::bad_request());
    };
    let lifetime = max_age(&mut body, caller)?;
    let expires = codec::now_unix().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let token_len = codec::token_len_for(&flags, expires);
    if token_len > MAX_TOKEN_LEN {
        tracing::info!(
            endpoint = NAME,
            repository = claims.repository.as_deref(),
            run_id = claims.run_id.as_deref(),
            flag_count = flags.len(),
            token_len,
            max = MAX_TOKEN_LEN,
            "request refused: the cookie would be too large for a browser"
        );
        return Err(CiError::BadRequest {
            reason: Some("cookie_too_large"),
        });
    }
    let Some(secret) = secret else {
        tracing::error!(
            endpoint = NAME,
            "{SECRET_VAR} is not configured in this deployment"
        );
        return Err(CiError::Misconfigured);
    };
    let cookie = codec::encrypt_overrides(&flags, secret, expires).map_err(|error| {
        tracing::error!(endpoint = NAME, %error, "could not encrypt the overrides");
        CiError::Internal
    })?;
    tracing::info!(
        endpoint = NAME,
        repository = claims.repository.as_deref(),
        workflow_ref = claims.workflow_ref.as_deref(),
        run_id = claims.run_id.as_deref(),
        flag_count = flags.len(),
        cookie_len = cookie.len(),
        lifetime_secs = lifetime,
        "override cookie issued"
    );
    Ok(Json(json!({ "cookie": cookie, "expires": expires })))
}

/// The cookie's lifetime in seconds: the request's `maxAge` (an integer > 0, at most the policy's
/// `cookie_max_age`), else the policy's `cookie_max_age`.
fn max_age(body: &mut Map<String, Value>, caller: &VerifiedCaller) -> Result<u64, CiError> {
    let limit = caller.cookie_max_age().as_secs();
    let Some(value) = body.remove("maxAge") else {
        return Ok(limit);
    };
    let claims = caller.claims();
    match value.as_u64().filter(|&secs| secs > 0) {
        Some(secs) if secs <= limit => Ok(secs),
        Some(secs) => {
            tracing::info!(
                endpoint = NAME,
                repository = claims.repository.as_deref(),
                run_id = claims.run_id.as_deref(),
                max_age = secs,
                cookie_max_age = limit,
                "request refused: maxAge is above the policy's cookie_max_age"
            );
            Err(CiError::BadRequest {
                reason: Some("max_age_too_long"),
            })
        }
        None => {
            tracing::info!(
                endpoint = NAME,
                repository = claims.repository.as_deref(),
                run_id = claims.run_id.as_deref(),
                "request refused: maxAge is not a whole number of seconds above 0"
            );
            Err(CiError::bad_request())
        }
    }
}
