//! The `flags/encrypt-override` endpoint: a verified CI caller posts
//! `{"flags":{…},"maxAge":N?}` and gets back `{"cookie":"…","expires":T}`, a
//! `vercel-flag-overrides` value the Flags SDK accepts until `T` (Unix seconds), without ever
//! holding `FLAGS_SECRET`. The kit has refused production (404), bad tokens (401/403) and bad
//! bodies (413/400), read the secret at start-up and put the caller in every log line's span; the
//! handler checks, in the contract's order: `flags` is an object (400), `maxAge` is absent or a
//! positive integer (400) no longer than the policy's `cookie_max_age` (400 `max_age_too_long`),
//! the cookie fits in a browser (400 `cookie_too_large`), the secret is configured (500
//! `misconfigured`).
//!
//! Why a short lifetime: the SDK's default is a year, and CI cookies end up in traces, HAR files
//! and reports. A cookie minted for a CI run lives as long as the run (policy default two hours).

use axum::{Json, routing::post};
use ci_endpoint::{CiError, Endpoint, JsonBody, Secret, VerifiedCaller};
use serde_json::{Value, json};

use crate::codec::{self, FlagsSecret, MAX_TOKEN_LEN};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "flags/encrypt-override";
/// The environment variable holding the Flags SDK secret.
pub const SECRET_VAR: &str = "FLAGS_SECRET";

/// The endpoint; the kit reads `FLAGS_SECRET` at start-up (a malformed one stops it).
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(encrypt_override)).with_secret(SECRET_VAR, |text| {
        FlagsSecret::parse(text).map_err(|e| e.problem())
    })
}

async fn encrypt_override(
    caller: VerifiedCaller,
    secret: Secret<FlagsSecret>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, CiError> {
    // Like the prototype: any other key is ignored, and `flags` keeps the caller's key order.
    let Some(Value::Object(flags)) = body.get("flags") else {
        tracing::info!("request refused: `flags` is missing or not an object");
        return Err(CiError::bad_request());
    };
    let lifetime = max_age(body.get("maxAge"), &caller)?;
    let expires = codec::now_unix().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let token_len = codec::token_len_for(flags, expires);
    if token_len > MAX_TOKEN_LEN {
        let (flag_count, max) = (flags.len(), MAX_TOKEN_LEN);
        tracing::info!(
            flag_count,
            token_len,
            max,
            "request refused: cookie too large"
        );
        return Err(CiError::BadRequest {
            reason: Some("cookie_too_large"),
        });
    }
    let cookie = codec::encrypt_overrides(flags, secret.get()?, expires).map_err(|error| {
        tracing::error!(%error, "could not encrypt the overrides");
        CiError::Internal
    })?;
    tracing::info!(
        flag_count = flags.len(),
        cookie_len = cookie.len(),
        lifetime_secs = lifetime,
        "override cookie issued"
    );
    Ok(Json(json!({ "cookie": cookie, "expires": expires })))
}

/// The cookie's lifetime in seconds: the request's `maxAge` (an integer > 0, at most the policy's
/// `cookie_max_age`), else the policy's `cookie_max_age`.
fn max_age(value: Option<&Value>, caller: &VerifiedCaller) -> Result<u64, CiError> {
    let limit = caller.cookie_max_age().as_secs();
    let Some(value) = value else {
        return Ok(limit);
    };
    match value.as_u64().filter(|&secs| secs > 0) {
        Some(secs) if secs <= limit => Ok(secs),
        Some(secs) => {
            tracing::info!(
                max_age = secs,
                cookie_max_age = limit,
                "request refused: maxAge is above the policy's cookie_max_age"
            );
            Err(CiError::BadRequest {
                reason: Some("max_age_too_long"),
            })
        }
        None => {
            tracing::info!("request refused: maxAge is not a whole number of seconds above 0");
            Err(CiError::bad_request())
        }
    }
}
