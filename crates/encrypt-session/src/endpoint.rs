//! The `auth/encrypt-session` endpoint: a verified CI caller posts
//! `{"session": {…claims…}, "maxAge": <seconds, optional>}` and gets back
//! `{"name": "<cookie name>", "cookie": "<value>", "expires": <unix seconds>}`, a session cookie
//! the app's Auth.js accepts, without ever holding `AUTH_SECRET`.
//!
//! The kit has already refused production, bad tokens and oversized or non-JSON bodies, read
//! `AUTH_SECRET` at start-up and put the caller in every log line's span. The body's checks
//! ([`RequestBody::validate`]) run before a `single_use` token is spent, so a refused body leaves
//! the token good; in order (each a 400 with the named reason): a key other than `session` and
//! `maxAge` (plain 400), `session` is an object (`session_not_an_object`) without a reserved
//! claim ([`RESERVED_CLAIMS`], `reserved_claim`), its `sub` is a string (`subject_missing`) the
//! policy's `subjects` lists (`subject_not_allowed`), every other claim is in its
//! `caller_claims` (`claim_not_allowed`, see [`crate::SessionConfig`]), `maxAge` is a positive
//! integer (plain 400) no longer than the policy's `cookie_max_age` (`max_age_too_long`), the
//! cookie fits in one browser cookie (`cookie_too_large`: Auth.js would chunk it). Then the token
//! is spent (a replay is 401) and the handler checks the secret is configured (500
//! `misconfigured`).
//!
//! Which name the cookie gets follows Auth.js's own rule (`useSecureCookies` is "the app's URL is
//! https"): see [`CookieNames`].

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Endpoint, RequestBody, Secret, VerifiedJson};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::SessionConfig;
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
/// Claims a caller may not set (400 `reserved_claim`), nor a policy allow
/// (`caller_claims`): who issued the session and for whom is the app's business, `nbf` could
/// postdate it, and the times and the id are the endpoint's (`iat`, `exp`, `jti` as Auth.js
/// writes them, and the expiry claim).
pub const RESERVED_CLAIMS: [&str; 7] = ["iss", "aud", "nbf", "exp", "iat", "jti", EXPIRES_CLAIM];

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
/// [`CookieNames::from_env`]); the kit reads `AUTH_SECRET` and the policy's subject allowlist at
/// start-up (a malformed one, or none, stops it).
pub fn endpoint() -> Endpoint {
    endpoint_with(CookieNames::from_env())
}

/// [`endpoint`] with the cookie-name rule given (tests; hosts that configure it another way).
pub fn endpoint_with(names: CookieNames) -> Endpoint {
    let handler =
        move |keys: Secret<Keys>,
              headers: HeaderMap,
              VerifiedJson { caller, body }: VerifiedJson<SessionRequest>| async move {
            let secure = names.secure_for(&headers);
            let lifetime = caller.cookie_lifetime(body.max_age.as_ref())?; // validated: same answer
            let (payload, expires) = payload(body.claims()?, lifetime)?;
            let keys = keys.get()?;
            let key = if secure { &keys.secure } else { &keys.plain };
            let cookie = codec::seal(key, &payload).map_err(|error| {
                tracing::error!(%error, "could not encrypt the session");
                CiError::Internal
            })?;
            caller.summarize("secure_cookie", secure);
            caller.summarize("max_age", lifetime);
            Ok::<_, CiError>(Json(json!({
                "name": key.cookie_name(),
                "cookie": cookie,
                "expires": expires,
            })))
        };
    Endpoint::new(NAME, post(handler))
        .with_secret(SECRET_VAR, Keys::parse)
        .with_config::<SessionConfig>()
}

/// The body. Unknown keys are a plain 400 (a misspelled `maxAge` would otherwise give the
/// longest session silently).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SessionRequest {
    /// Kept as JSON so that a missing or non-object `session` gets its own reason.
    #[serde(default)]
    session: Value,
    /// Kept as JSON so the kit's `cookie_lifetime` answers every malformed value the same way.
    max_age: Option<Value>,
}

fn bad_request(reason: &'static str) -> CiError {
    CiError::BadRequest {
        reason: Some(reason),
    }
}

impl SessionRequest {
    fn claims(&self) -> Result<&Map<String, Value>, CiError> {
        self.session
            .as_object()
            .ok_or_else(|| bad_request("session_not_an_object"))
    }
}

impl RequestBody for SessionRequest {
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        // Refusals are logged by the kit, once, with their reason (the audit line of the call).
        let caller = context.caller();
        let session = self.claims()?;
        caller.summarize("claim_count", session.len());
        if let Some(claim) = RESERVED_CLAIMS.iter().find(|c| session.contains_key(**c)) {
            caller.summarize("reserved_claim", *claim);
            return Err(bad_request("reserved_claim"));
        }
        let config = context.config::<SessionConfig>()?;
        let Some(Value::String(subject)) = session.get("sub") else {
            return Err(bad_request("subject_missing"));
        };
        if !config.subjects.contains(subject) {
            // The subject is a test user's id, not a secret: the operator needs it to fix the list.
            tracing::info!(subject = %subject.escape_debug(), "subject not in the policy's subjects");
            return Err(bad_request("subject_not_allowed"));
        }
        let allowed = |claim: &&String| *claim == "sub" || config.caller_claims.contains(claim);
        if let Some(claim) = session.keys().find(|claim| !allowed(claim)) {
            tracing::info!(claim = %claim.escape_debug(), "claim not in the policy's caller_claims");
            return Err(bad_request("claim_not_allowed"));
        }
        let lifetime = caller.cookie_lifetime(self.max_age.as_ref())?;
        let (payload, _) = payload(session, lifetime)?;
        let cookie_len = codec::cookie_len(&payload);
        caller.summarize("cookie_len", cookie_len);
        if cookie_len > MAX_COOKIE_LEN {
            // Auth.js would split this session into several cookies.
            return Err(bad_request("cookie_too_large"));
        }
        Ok(())
    }
}

/// The session's payload as Auth.js's `encode` writes it, with the expiry claim, and its expiry.
fn payload(
    session: &Map<String, Value>,
    lifetime: u64,
) -> Result<(Map<String, Value>, u64), CiError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut payload = codec::session_payload(session, now, lifetime).map_err(|error| {
        tracing::error!(%error, "could not build the session");
        CiError::Internal
    })?;
    // The same second as `exp`, in a claim Auth.js keeps when it re-signs the session.
    let expires = now + lifetime;
    payload.insert(EXPIRES_CLAIM.to_owned(), expires.into());
    Ok((payload, expires))
}
