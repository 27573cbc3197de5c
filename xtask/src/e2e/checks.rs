//! What the browser must have seen: the expected marker (the example's flag defaults with the
//! run's overrides, the test user) and each refusal, judged from `browser::Seen`.

use std::path::Path;

use ci_fixtures::MockGitHub;
use serde_json::{Map, Value, json};

use super::browser::Seen;
use super::state::{USER_EMAIL, USER_NAME};
use crate::flags::{Result, failed, usage};

/// The cookies the app reads (the rest of a state is Deployment Protection's).
pub(super) const APP_COOKIES: [&str; 3] = [
    "vercel-flag-overrides",
    "__Secure-authjs.session-token",
    "authjs.session-token",
];

/// Where the emulated edge sends a visitor without access.
const LOGIN: &str = ci_fixtures::protection::LOGIN_URL;

pub(super) fn is_protection_cookie(cookie: &Map<String, Value>) -> bool {
    cookie["name"]
        .as_str()
        .is_some_and(|name| !APP_COOKIES.contains(&name))
}

/// The run's expectations.
pub(super) struct Expected {
    /// `--flag` values as given.
    pub overrides: Vec<String>,
    pub user: String,
    defaults: Map<String, Value>,
    flags: Map<String, Value>,
}

impl Expected {
    pub(super) fn new(example: &Path, overrides: &[String], user: &str) -> Result<Expected> {
        let path = example.join("lib/flag-defaults.json");
        let defaults: Map<String, Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| failed(format!("{} is not a JSON object", path.display())))?;
        let mut flags = defaults.clone();
        for item in overrides {
            let (name, raw) = item
                .split_once('=')
                .ok_or_else(|| usage(format!("--flag {item:?} is not NAME=VALUE")))?;
            let Some(slot) = flags.get_mut(name.trim()) else {
                let known: Vec<&String> = defaults.keys().collect();
                return Err(usage(format!(
                    "--flag {name}: the example has no such flag (its flags: {known:?})"
                )));
            };
            // Typed as `ci-preview` types it: JSON when it parses, else the string.
            *slot = serde_json::from_str(raw.trim()).unwrap_or_else(|_| json!(raw));
        }
        if user.trim().is_empty() {
            return Err(usage("--user needs a subject"));
        }
        Ok(Expected {
            overrides: overrides.to_vec(),
            user: user.to_owned(),
            defaults,
            flags,
        })
    }

    fn signed_in(&self) -> Value {
        json!({
            "flags": self.flags,
            "user": {"id": self.user, "name": USER_NAME, "email": USER_EMAIL},
        })
    }

    fn signed_out(&self) -> Value {
        json!({"flags": self.defaults, "user": null})
    }
}

pub(super) struct Checks<'a> {
    pub expected: &'a Expected,
    pub protected: bool,
    pub preview_url: &'a str,
}

impl Checks<'_> {
    /// Protected: the first answer is Vercel's refusal (its 401 login page, or a redirect to the
    /// login) and the app's page is never shown. Unprotected: the page, at its defaults and
    /// signed out.
    pub(super) fn no_state(&self, seen: &Seen) -> Result {
        if !self.protected {
            return self.signed_out_defaults(seen);
        }
        let refused = seen
            .responses
            .first()
            .is_some_and(|(status, location)| match status {
                401 | 403 => true,
                302 | 303 | 307 => location.as_deref().is_some_and(|l| l.starts_with(LOGIN)),
                _ => false,
            });
        if !refused || seen.marker.is_some() {
            return Err(failed(format!(
                "the edge let a browser without state through: {seen:?}"
            )));
        }
        Ok(())
    }

    pub(super) fn signed_out_defaults(&self, seen: &Seen) -> Result {
        self.page(seen, &self.expected.signed_out()).map(drop)
    }

    /// The page with the overrides and the user; the browser kept the cookies as a real preview's
    /// (the session `HttpOnly` and `Secure` under its `__Secure-` name). Returns the marker.
    pub(super) fn signed_in(&self, seen: &Seen) -> Result<Value> {
        let marker = self.page(seen, &self.expected.signed_in())?;
        let session = seen
            .cookie("__Secure-authjs.session-token")
            .ok_or_else(|| failed("the browser holds no __Secure-authjs.session-token"))?;
        if session["httpOnly"] != true || session["secure"] != true {
            return Err(failed(format!(
                "the session cookie is not HttpOnly+Secure: {session}"
            )));
        }
        if seen.cookie("vercel-flag-overrides").is_none() {
            return Err(failed("the browser holds no vercel-flag-overrides cookie"));
        }
        if self.protected {
            let protection = seen
                .cookies
                .iter()
                .find(|c| c.as_object().is_some_and(is_protection_cookie))
                .ok_or_else(|| failed("the browser holds no protection cookie"))?;
            if protection["httpOnly"] != true || protection["secure"] != true {
                return Err(failed(format!(
                    "the protection cookie is not HttpOnly+Secure: {protection}"
                )));
            }
        }
        Ok(marker)
    }

    fn page(&self, seen: &Seen, want: &Value) -> Result<Value> {
        if !seen.final_url.starts_with(self.preview_url) {
            return Err(failed(format!(
                "the browser ended on {} instead of the preview ({:?}, {:?})",
                seen.final_url, seen.responses, seen.error
            )));
        }
        let marker = seen
            .marker
            .clone()
            .ok_or_else(|| failed(format!("the page has no #ci-preview-state: {seen:?}")))?;
        if marker != *want {
            return Err(failed(format!("the page shows {marker}, expected {want}")));
        }
        Ok(marker)
    }
}

/// No secret and no minted token in the function's or the app's output, and no tunnel asked for
/// anywhere but the preview.
pub(super) fn no_leaks(logs: &str, secrets: &[&str], github: &MockGitHub, refused: u64) -> Result {
    if secrets.iter().any(|s| logs.contains(s)) {
        return Err(failed(
            "a secret appears in the function's or the app's output",
        ));
    }
    for mint in github.mints() {
        if let Some(signature) = mint.token.rsplit('.').next()
            && logs.contains(signature)
        {
            return Err(failed(
                "a minted token appears in the function's or the app's output",
            ));
        }
    }
    if refused > 0 {
        return Err(failed(format!(
            "{refused} connection(s) asked the resolver for a host other than the preview"
        )));
    }
    Ok(())
}
