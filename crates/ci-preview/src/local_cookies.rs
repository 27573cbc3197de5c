//! `storage-state --local`: the same cookies, computed on this machine from the app's own secrets.
//!
//! A developer running the app with `next dev` holds `FLAGS_SECRET` and `AUTH_SECRET` already
//! (`vercel env pull .env.local`) and has no OIDC token. Here the cookies the preview's endpoints
//! would issue are sealed in-process with the endpoints' own codecs (`encrypt-override`,
//! `encrypt-session`), so one Playwright suite runs against `next dev` and against a preview.
//! Only for a loopback URL: anywhere else the preview must compute them (the secrets never leave
//! it), and the command says so instead of sealing anything.

use std::path::Path;

use serde_json::{Map, Value};
use url::Url;

use crate::env;
use crate::error::{CliError, Result};
use crate::secret::Secret;
use crate::storage_state::{self, Cookie, SameSite};

/// The file `vercel env pull` writes, read when a variable is not in the environment.
pub(crate) const ENV_FILE: &str = ".env.local";

/// The lifetime when `--expires-in` is not given: the endpoints' default `cookie_max_age`.
pub(crate) const DEFAULT_LIFETIME: u64 = 2 * 60 * 60;

/// The cookies for `url`: the overrides when `flags` is given, a session when `claims` are,
/// sealed with the secrets from the environment or `dir`'s `.env.local`.
pub(crate) fn cookies(
    url: &Url,
    flags: Option<&Map<String, Value>>,
    claims: Option<&Map<String, Value>>,
    lifetime: Option<u64>,
    dir: &Path,
) -> Result<Vec<Cookie>> {
    require_loopback(url)?;
    let host = url.host_str().unwrap_or_default();
    let secure = url.scheme() == "https";
    let lifetime = lifetime.unwrap_or(DEFAULT_LIFETIME);
    let mut cookies = Vec::new();
    if let Some(flags) = flags {
        let secret = required(env::FLAGS_SECRET, dir)?;
        cookies.push(flags_cookie(host, secure, flags, lifetime, &secret)?);
    }
    if let Some(claims) = claims {
        let secret = required(env::AUTH_SECRET, dir)?;
        cookies.push(session_cookie(host, secure, claims, lifetime, &secret)?);
    }
    Ok(cookies)
}

fn required(name: &str, dir: &Path) -> Result<Secret> {
    variable(name, dir)?.ok_or_else(|| {
        CliError::missing_var(
            name,
            &format!(
                "--local reads it from the environment or from {ENV_FILE} in {} (run `vercel \
                 env pull {ENV_FILE}` there, or export the app's value)",
                dir.display()
            ),
        )
    })
}

/// Refuses any URL whose host is not this machine.
pub(crate) fn require_loopback(url: &Url) -> Result<()> {
    if crate::preview::is_loopback(url) {
        return Ok(());
    }
    Err(CliError::config(format!(
        "--local seals cookies with this machine's FLAGS_SECRET/AUTH_SECRET and is only for a \
         loopback URL (next dev on this machine); {} is not one. For a preview, drop --local: the \
         preview computes the cookies and the secrets stay there",
        url.host_str().unwrap_or("the URL")
    )))
}

/// A variable from the environment, else from `.env.local` in `dir`.
pub(crate) fn variable(name: &str, dir: &Path) -> Result<Option<Secret>> {
    if let Ok(value) = std::env::var(name)
        && !value.is_empty()
    {
        return Ok(Some(Secret::new(value)));
    }
    let path = dir.join(ENV_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(CliError::config(format!(
                "cannot read {}: {err}",
                path.display()
            )));
        }
    };
    Ok(dotenv_value(&text, name).map(Secret::new))
}

/// `NAME=value` of a dotenv file (`export ` prefixes, quotes and `#` comments as `vercel env pull`
/// and Next.js write and read them); the last assignment wins.
fn dotenv_value(text: &str, name: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != name || line.starts_with('#') {
            continue;
        }
        let value = value.trim();
        let unquoted = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close));
        let value = match unquoted {
            Some(inner) => inner.to_owned(),
            None => value
                .split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        found = Some(value);
    }
    found.filter(|v| !v.is_empty())
}

/// The override cookie `flags/encrypt-override` would issue, valid for `lifetime` seconds.
pub(crate) fn flags_cookie(
    host: &str,
    secure: bool,
    flags: &Map<String, Value>,
    lifetime: u64,
    secret: &Secret,
) -> Result<Cookie> {
    let key = encrypt_override::FlagsSecret::parse(secret.expose())
        .map_err(|err| CliError::config(format!("FLAGS_SECRET {}", err.problem())))?;
    let exp = now().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let value = encrypt_override::encrypt_overrides(flags, &key, exp)
        .map_err(|err| CliError::config(format!("cannot seal the overrides: {err}")))?;
    Ok(storage_state::override_cookie(
        host,
        secure,
        Secret::new(value),
        Some(exp),
    ))
}

/// The Auth.js session cookie `auth/encrypt-session` would issue for `claims`: under the name
/// Auth.js reads on this URL (`__Secure-` on https), valid for `lifetime` seconds.
pub(crate) fn session_cookie(
    host: &str,
    secure: bool,
    claims: &Map<String, Value>,
    lifetime: u64,
    secret: &Secret,
) -> Result<Cookie> {
    let auth = encrypt_session::AuthSecret::parse(secret.expose())
        .map_err(|err| CliError::config(format!("AUTH_SECRET {err}")))?;
    let name = if secure {
        encrypt_session::SECURE_COOKIE_NAME
    } else {
        encrypt_session::COOKIE_NAME
    };
    // As the endpoint does: its reserved claims are refused, and the session's end is also kept in
    // the claim Auth.js carries over when it re-signs the session.
    if let Some(claim) = encrypt_session::RESERVED_CLAIMS
        .iter()
        .find(|c| claims.contains_key(**c))
    {
        return Err(CliError::config(format!(
            "--session may not set the reserved claim `{claim}`"
        )));
    }
    let now = now();
    let now_secs = u64::try_from(now).unwrap_or(0);
    let mut payload = encrypt_session::session_payload(claims, now_secs, lifetime)
        .map_err(|err| CliError::config(format!("cannot build the session: {err}")))?;
    payload.insert(
        encrypt_session::EXPIRES_CLAIM.to_owned(),
        now_secs.saturating_add(lifetime).into(),
    );
    if encrypt_session::cookie_len(&payload) > encrypt_session::MAX_COOKIE_LEN {
        return Err(CliError::config(
            "--session is too large for one cookie (Auth.js would split it): send fewer claims",
        ));
    }
    let value = encrypt_session::seal(&auth.key_for(name), &payload)
        .map_err(|err| CliError::config(format!("cannot seal the session: {err}")))?;
    Ok(Cookie {
        name: name.to_owned(),
        value: Secret::new(value),
        domain: host.to_owned(),
        path: "/".to_owned(),
        expires: Some(now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))),
        http_only: true,
        secure,
        same_site: SameSite::Lax,
    })
}

fn now() -> i64 {
    encrypt_override::now_unix()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS_SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
    const AUTH_SECRET: &str = "a-test-auth-secret-of-at-least-32-characters";

    #[test]
    fn only_loopback_urls_are_accepted() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "https://[::1]:3000",
        ] {
            assert!(require_loopback(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for refused in [
            "https://app-git-x.vercel.app",
            "http://10.0.0.2:3000",
            "http://localhost.evil.example",
        ] {
            let err = require_loopback(&Url::parse(refused).unwrap()).unwrap_err();
            assert!(
                err.to_string().contains("only for a loopback URL"),
                "{refused}: {err}"
            );
        }
    }

    #[test]
    fn dotenv_values_are_read_as_vercel_env_pull_writes_them() {
        let text = "# Created by Vercel CLI\nFLAGS_SECRET=\"abc\"\nexport AUTH_SECRET='x y'\nOTHER=1 # c\nEMPTY=\n";
        assert_eq!(dotenv_value(text, "FLAGS_SECRET").as_deref(), Some("abc"));
        assert_eq!(dotenv_value(text, "AUTH_SECRET").as_deref(), Some("x y"));
        assert_eq!(dotenv_value(text, "OTHER").as_deref(), Some("1"));
        assert_eq!(dotenv_value(text, "EMPTY"), None);
        assert_eq!(dotenv_value(text, "MISSING"), None);
        assert_eq!(dotenv_value("A=1\nA=2\n", "A").as_deref(), Some("2"));
    }

    #[test]
    fn the_cookies_open_with_the_endpoints_codecs() {
        let flags: Map<String, Value> =
            serde_json::from_str(r#"{"newCheckout":true,"n":3}"#).unwrap();
        let cookie =
            flags_cookie("localhost", false, &flags, 600, &Secret::new(FLAGS_SECRET)).unwrap();
        assert_eq!(cookie.name, "vercel-flag-overrides");
        let key = encrypt_override::FlagsSecret::parse(FLAGS_SECRET).unwrap();
        let opened = encrypt_override::decrypt(cookie.value.expose(), &key).unwrap();
        assert_eq!(opened, Value::Object(flags));

        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"sub":"u1","name":"U"}"#).unwrap();
        for (secure, name) in [
            (false, "authjs.session-token"),
            (true, "__Secure-authjs.session-token"),
        ] {
            let cookie =
                session_cookie("localhost", secure, &claims, 600, &Secret::new(AUTH_SECRET))
                    .unwrap();
            assert_eq!(cookie.name, name);
            assert!(cookie.http_only);
            let key = encrypt_session::AuthSecret::parse(AUTH_SECRET)
                .unwrap()
                .key_for(name);
            let opened =
                encrypt_session::decode(&key, cookie.value.expose(), u64::try_from(now()).unwrap())
                    .unwrap();
            assert_eq!(opened["sub"], "u1");
            assert_eq!(opened["exp"].as_i64(), cookie.expires);
            assert_eq!(opened["ci_expires_at"], opened["exp"]);
        }
    }

    #[test]
    fn malformed_secrets_are_named_without_their_value() {
        let err = flags_cookie(
            "localhost",
            false,
            &Map::new(),
            60,
            &Secret::new("short-secret"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("FLAGS_SECRET"), "{err}");
        assert!(!err.to_string().contains("short-secret"));
        let err = session_cookie(
            "localhost",
            false,
            &Map::new(),
            60,
            &Secret::new("short-secret"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("AUTH_SECRET"), "{err}");
        assert!(!err.to_string().contains("short-secret"));
    }
}
