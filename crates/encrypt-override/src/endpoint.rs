//! The `flags/encrypt-override` endpoint: a verified CI caller posts `{"flags":{…},"maxAge":N?}`
//! and gets back `{"cookie":"…","expires":T}`, a `vercel-flag-overrides` value the Flags SDK
//! accepts until `T`, without ever holding `FLAGS_SECRET`. The kit has refused production, bad
//! tokens and bad bodies, read the secret and put the caller in the span; the handler checks, in
//! the contract's order (`CONTRACT.md` §2): `flags` is an object, `maxAge` (the kit's
//! `cookie_lifetime`: CI cookies end up in traces and reports, so they live as long as a run, not
//! the SDK's year), the cookie fits in a browser, the secret is configured.

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
    // Refusals are logged by the kit, once, with their reason (the audit line of the call).
    let Some(Value::Object(flags)) = body.get("flags") else {
        return Err(CiError::bad_request());
    };
    caller.summarize("flag_count", flags.len());
    let lifetime = caller.cookie_lifetime(body.get("maxAge"))?;
    let expires = codec::now_unix().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let token_len = codec::token_len_for(flags, expires);
    caller.summarize("cookie_len", token_len);
    if token_len > MAX_TOKEN_LEN {
        return Err(CiError::BadRequest {
            reason: Some("cookie_too_large"),
        });
    }
    let cookie = codec::encrypt_overrides(flags, secret.get()?, expires).map_err(|error| {
        tracing::error!(%error, "could not encrypt the overrides");
        CiError::Internal
    })?;
    caller.summarize("lifetime_secs", lifetime);
    Ok(Json(json!({ "cookie": cookie, "expires": expires })))
}
