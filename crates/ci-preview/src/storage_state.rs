//! Playwright's `storageState` file: the cookies an e2e suite loads so its browser starts with the
//! flag overrides (and, past Deployment Protection, Vercel's bypass cookie) already set.
//!
//! The format is Playwright's documented one (`browserContext.storageState()`): `cookies` with
//! `name`, `value`, `domain`, `path`, `expires` (unix seconds, `-1` for a session cookie),
//! `httpOnly`, `secure`, `sameSite` (`Strict` | `Lax` | `None`), and `origins`. Every cookie is
//! scoped to the preview's own host, whatever a `Set-Cookie` asked for. The file holds secrets,
//! so it is written with mode 0600 and replaced atomically.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{CliError, Result};
use crate::secret::Secret;

/// The cookie the Flags SDK reads overrides from.
pub(crate) const OVERRIDE_COOKIE: &str = "vercel-flag-overrides";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cookie {
    pub name: String,
    pub value: Secret,
    pub domain: String,
    pub path: String,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: SameSite,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CookieJson<'a> {
    name: &'a str,
    value: &'a str,
    domain: &'a str,
    path: &'a str,
    expires: i64,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
}

#[derive(Serialize)]
struct StateJson<'a> {
    cookies: Vec<CookieJson<'a>>,
    origins: [(); 0],
}

/// The override cookie, as the Vercel Toolbar sets it: readable by the app, `Lax`, whole site.
pub(crate) fn override_cookie(
    host: &str,
    secure: bool,
    value: Secret,
    expires: Option<i64>,
) -> Cookie {
    Cookie {
        name: OVERRIDE_COOKIE.to_owned(),
        value,
        domain: host.to_owned(),
        path: "/".to_owned(),
        expires,
        http_only: false,
        secure,
        same_site: SameSite::Lax,
    }
}

/// A `Set-Cookie` header of the priming response, scoped to `host`; `None` if it is malformed or
/// deletes the cookie.
pub(crate) fn parse_set_cookie(
    header: &str,
    host: &str,
    secure_origin: bool,
    now: i64,
) -> Option<Cookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim().trim_matches('"'));
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b",;\\\"".contains(&b))
    };
    if !token(name)
        || !value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b",;\\\"".contains(&b))
    {
        return None;
    }
    let mut cookie = Cookie {
        name: name.to_owned(),
        value: Secret::new(value),
        domain: host.to_owned(),
        path: "/".to_owned(),
        expires: None,
        http_only: false,
        secure: secure_origin,
        same_site: SameSite::Lax,
    };
    let mut max_age: Option<i64> = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let val = val.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "path" if val.starts_with('/') && token(val) => cookie.path = val.to_owned(),
            "max-age" => max_age = val.parse().ok(),
            "expires" => cookie.expires = cookie.expires.or_else(|| httpdate(val)),
            "httponly" => cookie.http_only = true,
            "secure" => cookie.secure = true,
            "samesite" => {
                cookie.same_site = match val.to_ascii_lowercase().as_str() {
                    "strict" => SameSite::Strict,
                    "none" => SameSite::None,
                    _ => SameSite::Lax,
                }
            }
            _ => {}
        }
    }
    if let Some(seconds) = max_age {
        cookie.expires = Some(now.saturating_add(seconds));
    }
    if value.is_empty() || cookie.expires.is_some_and(|at| at <= now) {
        return None;
    }
    Some(cookie)
}

fn httpdate(value: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(&rfc1123_to_rfc3339(value)?).ok()?;
    let secs = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// `Wed, 21 Oct 2026 07:28:00 GMT` → `2026-10-21 07:28:00`.
fn rfc1123_to_rfc3339(value: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let rest = value.split_once(',').map_or(value, |(_, r)| r).trim();
    let fields: Vec<&str> = rest.split([' ', '-']).filter(|f| !f.is_empty()).collect();
    let [day, month, year, time, ..] = fields[..] else {
        return None;
    };
    let month = MONTHS.iter().position(|m| month.eq_ignore_ascii_case(m))? + 1;
    let day: u32 = day.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    Some(format!("{year:04}-{month:02}-{day:02} {time}"))
}

/// The storageState JSON for `cookies`.
pub(crate) fn render(cookies: &[Cookie]) -> String {
    let state = StateJson {
        cookies: cookies
            .iter()
            .map(|c| CookieJson {
                name: &c.name,
                value: c.value.expose(),
                domain: &c.domain,
                path: &c.path,
                expires: c.expires.unwrap_or(-1),
                http_only: c.http_only,
                secure: c.secure,
                same_site: c.same_site,
            })
            .collect(),
        origins: [],
    };
    serde_json::to_string_pretty(&state).unwrap_or_default()
}

/// Writes `contents` to `path` readable by the owner only (0600), through a temporary file in the
/// same directory so a reader never sees half a file and an older file's mode never applies.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
    let fail = |what: &str, err: std::io::Error| {
        CliError::config(format!("cannot {what} {}: {err}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|err| fail("create the folder of", err))?;
    let name = path
        .file_name()
        .ok_or_else(|| CliError::config(format!("{} is not a file path", path.display())))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp).map_err(|err| fail("write", err))?;
    let written = file
        .write_all(contents.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(err) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(fail("write", err));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn set_cookie_is_scoped_to_the_preview_host() {
        let cookie = parse_set_cookie(
            "_vercel_jwt=abc.def; Path=/; Domain=.vercel.app; Max-Age=3600; Secure; HttpOnly; SameSite=None",
            "app-git-x.vercel.app",
            true,
            NOW,
        )
        .unwrap();
        assert_eq!(cookie.name, "_vercel_jwt");
        assert_eq!(cookie.value.expose(), "abc.def");
        assert_eq!(cookie.domain, "app-git-x.vercel.app");
        assert_eq!(cookie.expires, Some(NOW + 3600));
        assert!(cookie.http_only && cookie.secure);
        assert_eq!(cookie.same_site, SameSite::None);

        let dated = parse_set_cookie(
            "b=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
            "h",
            false,
            NOW,
        )
        .unwrap();
        assert_eq!(dated.expires, Some(1_792_567_680));
        assert_eq!(dated.same_site, SameSite::Lax);
        assert!(!dated.secure);
    }

    #[test]
    fn malformed_or_deleting_cookies_are_dropped() {
        for header in [
            "novalue",
            "=x",
            "a b=c",
            "a=",
            "a=1; Max-Age=0",
            "a=x\u{1b}y",
        ] {
            assert!(
                parse_set_cookie(header, "h", true, NOW).is_none(),
                "{header}"
            );
        }
    }

    #[test]
    fn renders_playwrights_shape() {
        let cookie = override_cookie("x.vercel.app", true, Secret::new("jwe"), Some(NOW));
        let json: serde_json::Value = serde_json::from_str(&render(&[cookie])).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"cookies": [{"name": "vercel-flag-overrides", "value": "jwe",
                "domain": "x.vercel.app", "path": "/", "expires": NOW, "httpOnly": false,
                "secure": true, "sameSite": "Lax"}], "origins": []})
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_private(&path, "one").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
