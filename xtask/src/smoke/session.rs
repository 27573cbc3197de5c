//! The smoke's second endpoint, `auth/encrypt-session`: its policy entry, and the check that the
//! session cookie `ci-preview call` got back opens with the server's `AUTH_SECRET` under the
//! cookie name it was issued for, holding the claims that were sent.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::flags::{Result, failed};

pub(super) const ENDPOINT: &str = "auth/encrypt-session";
const AUDIENCE: &str = "https://ci-in-preview.smoke/api/~/ci/auth/encrypt-session";

/// The test user the smoke's session names: the only subject its policy allows.
const SUBJECT: &str = "smoke-1";

/// The endpoint's `[endpoints."auth/encrypt-session"]` section of the smoke policy, with its
/// subject allowlist.
pub(super) fn policy_entry() -> String {
    format!(
        "\n{}\n[endpoints.{ENDPOINT:?}.config]\nsubjects = [{SUBJECT:?}]\n",
        ci_fixtures::policy_entry(ENDPOINT, AUDIENCE)
    )
}

/// The `--data` the smoke sends: a test user's session, for ten minutes.
pub(super) fn request() -> Value {
    json!({"session": {"name": "Smoke Test", "email": "smoke@example.com", "sub": SUBJECT}, "maxAge": 600})
}

/// Checks `ci-preview call`'s output: `{name, cookie, expires}`, the plain-HTTP cookie name (the
/// smoke's server is reached over http without `x-forwarded-proto`), a cookie that decodes with
/// `secret` to the sent claims, expiring when the answer says.
pub(super) fn check_answer(out: &str, secret: &str) -> Result {
    let answer: Value = serde_json::from_str(out.trim())
        .map_err(|e| failed(format!("call printed no JSON ({e}): {out}")))?;
    let (Some(name), Some(cookie), Some(expires)) = (
        answer["name"].as_str(),
        answer["cookie"].as_str(),
        answer["expires"].as_u64(),
    ) else {
        return Err(failed(format!(
            "not a {{name, cookie, expires}} answer: {out}"
        )));
    };
    if name != encrypt_session::COOKIE_NAME {
        return Err(failed(format!("unexpected cookie name {name}")));
    }
    let key = encrypt_session::AuthSecret::parse(secret)
        .map_err(|e| failed(e.to_string()))?
        .key_for(name);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = encrypt_session::decode(&key, cookie, now)
        .map_err(|e| failed(format!("the session cookie does not decode: {e}")))?;
    let sent = request();
    for (claim, value) in sent["session"].as_object().expect("an object") {
        if claims.get(claim) != Some(value) {
            return Err(failed(format!("claim {claim} changed on the way")));
        }
    }
    if claims["exp"].as_u64() != Some(expires) || !(now..=now + 600).contains(&expires) {
        return Err(failed(format!(
            "expires {expires} does not match maxAge 600"
        )));
    }
    Ok(())
}
