//! The `auth/encrypt-session` endpoint: a verified CI caller posts
//! `{"session": {…claims…}, "maxAge": <seconds, optional>}` and gets back
//! `{"name": "<cookie name>", "cookie": "<value>", "expires": <unix seconds>}`, a session cookie
//! the app's Auth.js accepts, without ever holding `AUTH_SECRET`.
//!
//! The kit has already refused production, bad tokens, replays and oversized or non-JSON bodies,
//! read `AUTH_SECRET` at start-up and put the caller in every log line's span; the handler checks,
//! in order: `session` is an object (400 `session_not_an_object`) without a reserved claim
//! ([`RESERVED_CLAIMS`], 400 `reserved_claim`), `maxAge` is
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
/// The reserved expiry claim: the Unix second the session ends, whatever Auth.js does. Auth.js
/// re-signs a JWT session with the app's own `maxAge` (30 days by default) on the first
/// `/api/auth/session` call, so `exp` alone does not bound it; the app's `callbacks.jwt` ends a
/// session past this claim (`system-docs/SESSION-EXPIRY.md`).
pub const EXPIRES_CLAIM: &str = "ci_expires_at";
/// Claims a caller may not set (400 `reserved_claim`): who issued the session and for whom is
/// the app's business, `nbf` could postdate it, and the expiry claim is the endpoint's.
pub const RESERVED_CLAIMS: [&str; 4] = ["iss", "aud", "nbf", EXPIRES_CLAIM];

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
    if let Some(claim) = RESERVED_CLAIMS.iter().find(|c| session.contains_key(**c)) {
        caller.summarize("reserved_claim", *claim);
        return Err(CiError::BadRequest {
            reason: Some("reserved_claim"),
        });
    }
    let max_age = caller.cookie_lifetime(body.get("maxAge"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut payload = codec::session_payload(&session, now, max_age).map_err(|error| {
        tracing::error!(%error, "could not build the session");
        CiError::Internal
    })?;
    // The same second as `exp`, in a claim Auth.js keeps when it re-signs the session.
    payload.insert(EXPIRES_CLAIM.to_owned(), (now + max_age).into());
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
