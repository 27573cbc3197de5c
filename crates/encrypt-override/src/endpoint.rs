//! The `flags/encrypt-override` endpoint: a verified CI caller posts `{"flags":{…},"maxAge":N?}`
//! and gets back `{"cookie":"…","expires":T}`, a `vercel-flag-overrides` value the Flags SDK
//! accepts until `T`, without ever holding `FLAGS_SECRET`. The kit has refused production, bad
//! tokens and bad bodies (not JSON, no `flags`, `flags` not an object: the typed [`Request`]),
//! read the secret and put the caller in the span; the body's own checks run before a
//! `single_use` token is spent ([`RequestBody::validate`]), in the contract's order
//! (`CONTRACT.md` §2): `maxAge` (the kit's `cookie_lifetime`: CI cookies end up in traces and
//! reports, so they live as long as a run, not the SDK's year), the cookie fits in a browser; the
//! handler then checks the secret is configured.

use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Endpoint, RequestBody, Secret, VerifiedJson};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codec::{self, FlagsSecret, MAX_TOKEN_LEN};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "flags/encrypt-override";
/// The environment variable holding the Flags SDK secret.
pub const SECRET_VAR: &str = "FLAGS_SECRET";

/// The 400 reasons this endpoint names (`{"error":"bad_request","reason":…}`), beside the kit's
/// own (`max_age_too_long`).
mod reason {
    /// The cookie would exceed 4096 bytes, which browsers drop silently.
    pub(super) const COOKIE_TOO_LARGE: &str = "cookie_too_large";
}

/// The body: a JSON object (an array is not read as one, as serde would) whose `flags` is an
/// object; like the prototype, any other key is ignored and `flags` keeps the caller's key order.
/// Anything else is the contract's plain 400.
#[derive(Deserialize)]
#[serde(try_from = "Map<String, Value>")]
struct Request {
    flags: Map<String, Value>,
    /// Kept as JSON so the kit's `cookie_lifetime` answers every malformed value the same way
    /// (`null` included: present, and not a number of seconds).
    max_age: Option<Value>,
}

impl TryFrom<Map<String, Value>> for Request {
    type Error = &'static str;

    fn try_from(mut body: Map<String, Value>) -> Result<Request, Self::Error> {
        let Some(Value::Object(flags)) = body.remove("flags") else {
            return Err("`flags` is missing or not an object");
        };
        Ok(Request {
            flags,
            max_age: body.remove("maxAge"),
        })
    }
}

impl RequestBody for Request {
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        let caller = context.caller();
        // Refusals are logged by the kit, once, with their reason (the audit line of the call).
        caller.summarize("flag_count", self.flags.len());
        let lifetime = caller.cookie_lifetime(self.max_age.as_ref())?;
        let token_len = codec::token_len_for(&self.flags, expires_after(lifetime));
        caller.summarize("cookie_len", token_len);
        if token_len > MAX_TOKEN_LEN {
            return Err(CiError::BadRequest {
                reason: Some(reason::COOKIE_TOO_LARGE),
            });
        }
        Ok(())
    }
}

fn expires_after(lifetime: u64) -> i64 {
    codec::now_unix().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))
}

/// The answer.
#[derive(Serialize)]
struct Issued {
    cookie: String,
    expires: i64,
}

/// The endpoint; the kit reads `FLAGS_SECRET` at start-up (a malformed one stops it).
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(encrypt_override)).with_secret(SECRET_VAR, |text| {
        FlagsSecret::parse(text).map_err(|e| e.problem())
    })
}

async fn encrypt_override(
    secret: Secret<FlagsSecret>,
    VerifiedJson { caller, body }: VerifiedJson<Request>,
) -> Result<Json<Issued>, CiError> {
    // Validated already (`Request::validate`): the same rule gives the same lifetime.
    let lifetime = caller.cookie_lifetime(body.max_age.as_ref())?;
    let expires = expires_after(lifetime);
    let cookie =
        codec::encrypt_overrides(&body.flags, secret.get()?, expires).map_err(|error| {
            tracing::error!(%error, "could not encrypt the overrides");
            CiError::Internal
        })?;
    caller.summarize("lifetime_secs", lifetime);
    Ok(Json(Issued { cookie, expires }))
}
