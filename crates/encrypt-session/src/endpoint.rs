//! The `auth/encrypt-session` endpoint: a verified CI caller posts
//! `{"session": {…claims…}, "maxAge": <seconds, optional>}` and gets back
//! `{"name": "<cookie name>", "cookie": "<value>", "expires": <unix seconds>}`, a session cookie
//! the app's Auth.js accepts, without ever holding `AUTH_SECRET`.
//!
//! The kit has already refused production, bad tokens, replays and oversized or non-JSON bodies,
//! read `AUTH_SECRET` at start-up and put the caller in every log line's span; the handler checks,
//! in order: `session` is an object (400 `session_not_an_object`), `maxAge` is
//! a positive integer (400) no longer than the policy's `cookie_max_age` (400
//! `max_age_too_long`), the cookie fits in one browser cookie (400 `cookie_too_large`: Auth.js
//! would chunk it), the secret is configured (500 `misconfigured`).
//!
//! Which name the cookie gets follows Auth.js's own rule (`useSecureCookies` is "the app's URL is
//! https"): see [`CookieNames`].

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::{Json, routing::post};
use ci_endpoint::{CiError, Endpoint, JsonBody, Secret, VerifiedCaller};
use serde_json::{Value, json};

use crate::codec::{self, MAX_COOKIE_LEN};
use crate::key::{AuthSecret, COOKIE_NAME, SECURE_COOKIE_NAME, SessionKey};
use crate::origin::CookieNames;

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "auth/encrypt-session";
/// The environment variable holding the Auth.js secret (the one the app itself reads).
pub const SECRET_VAR: &str = "AUTH_SECRET";

/// The keys for both cookie names, derived once at start-up from `AUTH_SECRET`.
struct Keys {
    plain: SessionKey,
    secure: SessionKey,
}

impl Keys {
    fn parse(text: &str) -> Result<Keys, String> {
        let secret = AuthSecret::parse(text).map_err(|e| e.problem())?;
        Ok(Keys {
            plain: secret.key_for(COOKIE_NAME),
            secure: secret.key_for(SECURE_COOKIE_NAME),
        })
    }
}

/// The endpoint, naming cookies by `AUTH_URL`/`NEXTAUTH_URL` as this process sees them (see
/// [`CookieNames::from_env`]); the kit reads `AUTH_SECRET` at start-up (a malformed one stops it).
pub fn endpoint() -> Endpoint {
    endpoint_with(CookieNames::from_env())
}

/// [`endpoint`] with the cookie-name rule given (tests; hosts that configure it another way).
pub fn endpoint_with(names: CookieNames) -> Endpoint {
    let handler = move |caller: VerifiedCaller,
                        keys: Secret<Keys>,
                        headers: HeaderMap,
                        JsonBody(body): JsonBody<Value>| async move {
        encrypt_session(&caller, &keys, names.secure_for(&headers), body)
    };
    Endpoint::new(NAME, post(handler)).with_secret(SECRET_VAR, Keys::parse)
}

fn encrypt_session(
    caller: &VerifiedCaller,
    keys: &Secret<Keys>,
    secure: bool,
    body: Value,
) -> Result<Json<Value>, CiError> {
    // Refusals are logged by the kit, once, with their reason (the audit line of the call).
    let Value::Object(mut body) = body else {
        return Err(CiError::bad_request());
    };
    let Some(Value::Object(session)) = body.remove("session") else {
        return Err(CiError::BadRequest {
            reason: Some("session_not_an_object"),
        });
    };
    caller.summarize("claim_count", session.len());
    let max_age = caller.cookie_lifetime(body.get("maxAge"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let payload = codec::session_payload(&session, now, max_age).map_err(|error| {
        tracing::error!(%error, "could not build the session");
        CiError::Internal
    })?;
    let cookie_len = codec::cookie_len(&payload);
    caller.summarize("cookie_len", cookie_len);
    if cookie_len > MAX_COOKIE_LEN {
        // Auth.js would split this session into several cookies.
        return Err(CiError::BadRequest {
            reason: Some("cookie_too_large"),
        });
    }
    let keys = keys.get()?;
    let key = if secure { &keys.secure } else { &keys.plain };
    let cookie = codec::seal(key, &payload).map_err(|error| {
        tracing::error!(%error, "could not encrypt the session");
        CiError::Internal
    })?;
    caller.summarize("secure_cookie", secure);
    caller.summarize("max_age", max_age);
    Ok(Json(json!({
        "name": key.cookie_name(),
        "cookie": cookie,
        "expires": now + max_age,
    })))
}
