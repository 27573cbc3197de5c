//! The cookies in the endpoints' answers, read as hostile input: `auth/encrypt-session`'s and
//! `vercel/protection-cookie`'s JSON turned into storageState cookies scoped to the preview's own
//! host, whatever the answer names, with every value masked before anything can print it. Used by
//! `ci-preview storage-state`.

use protection_cookie::set_cookie::is_cookie_text;
use serde_json::Value;

use crate::actions;
use crate::error::{CliError, Result};
use crate::secret::Secret;
use crate::storage_state::{Cookie, SameSite};

/// The endpoint that makes Auth.js session cookies.
pub(crate) const SESSION_ENDPOINT: &str = "auth/encrypt-session";
/// The endpoint that exchanges the deployment's bypass secret for a protection cookie.
pub(crate) const PROTECTION_ENDPOINT: &str = "vercel/protection-cookie";

/// `value`, masked in the job log before it is kept.
pub(crate) fn masked(value: &str) -> Secret {
    actions::mask(value);
    Secret::new(value)
}

/// `{"name","cookie","expires"}` from auth/encrypt-session: the name is the network's, so it must
/// be one a cookie can carry.
pub(crate) fn session_cookie(answer: &Value, host: &str, secure: bool) -> Result<Cookie> {
    let bad = |what: &str| CliError::check(format!("{SESSION_ENDPOINT} answered {what}"));
    let name = answer["name"]
        .as_str()
        .filter(|n| !n.is_empty() && is_cookie_text(n))
        .ok_or_else(|| bad("without a cookie `name` a browser can carry"))?;
    let value = answer["cookie"]
        .as_str()
        .filter(|v| !v.is_empty() && is_cookie_text(v))
        .ok_or_else(|| bad("without a `cookie` value a browser can carry"))?;
    Ok(Cookie {
        name: name.to_owned(),
        value: masked(value),
        domain: host.to_owned(),
        path: "/".to_owned(),
        expires: answer["expires"].as_i64(),
        // As Auth.js sets its session cookie.
        http_only: true,
        secure,
        same_site: SameSite::Lax,
    })
}

/// `{"cookie": {…}}` or `{"cookie": null}` from vercel/protection-cookie, scoped to the
/// preview's host whatever domain it names.
pub(crate) fn protection_cookie(
    answer: &Value,
    host: &str,
    secure: bool,
) -> Result<Option<Cookie>> {
    let bad = |what: &str| CliError::check(format!("{PROTECTION_ENDPOINT} answered {what}"));
    // Only an explicit `null` says "not protected"; a missing member is a malformed answer.
    let cookie = match answer.get("cookie") {
        Some(Value::Null) => return Ok(None),
        Some(Value::Object(cookie)) => cookie,
        _ => return Err(bad("without a `cookie` object")),
    };
    let text = |key: &str| {
        cookie
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty() && is_cookie_text(v))
            .ok_or_else(|| bad(&format!("a cookie without a usable `{key}`")))
    };
    let (name, value) = (text("name")?, text("value")?);
    let path = cookie
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| p.starts_with('/') && is_cookie_text(p))
        .unwrap_or("/");
    let same_site = match cookie.get("sameSite").and_then(Value::as_str) {
        Some("None") => SameSite::None,
        Some("Strict") => SameSite::Strict,
        _ => SameSite::Lax,
    };
    Ok(Some(Cookie {
        name: name.to_owned(),
        value: masked(value),
        domain: host.to_owned(),
        path: path.to_owned(),
        expires: cookie
            .get("expires")
            .and_then(Value::as_i64)
            .filter(|e| *e > 0),
        http_only: cookie
            .get("httpOnly")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        secure: secure
            || cookie
                .get("secure")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        same_site,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hostile_answers_are_refused_and_domains_are_the_previews() {
        let answer = json!({"cookie": {"name": "_vercel_jwt", "value": "abc", "domain": "evil.example",
            "path": "/", "expires": 1_900_000_000, "httpOnly": true, "secure": true, "sameSite": "None"}});
        let cookie = protection_cookie(&answer, "app.vercel.app", true)
            .unwrap()
            .unwrap();
        assert_eq!(cookie.domain, "app.vercel.app");
        assert_eq!(cookie.same_site, SameSite::None);
        assert!(
            protection_cookie(&json!({"cookie": null}), "h", true)
                .unwrap()
                .is_none()
        );
        for bad in [
            json!({}),
            json!({"cookie": {"name": "a;b", "value": "x"}}),
            json!({"cookie": {"name": "a", "value": "x\ny"}}),
        ] {
            assert!(protection_cookie(&bad, "h", true).is_err(), "{bad}");
        }
        assert!(session_cookie(&json!({"name": "a b", "cookie": "x"}), "h", true).is_err());
        assert!(session_cookie(&json!({"name": "authjs.session-token"}), "h", true).is_err());
    }
}
