//! Playwright's `storageState` file: the cookies an e2e suite loads so its browser starts with the
//! flag overrides (and, past Deployment Protection, Vercel's bypass cookie) already set.
//!
//! The format is Playwright's documented one (`browserContext.storageState()`): `cookies` with
//! `name`, `value`, `domain`, `path`, `expires` (unix seconds, `-1` for a session cookie),
//! `httpOnly`, `secure`, `sameSite` (`Strict` | `Lax` | `None`), and `origins`. Every cookie is
//! scoped to the preview's own host, whatever a `Set-Cookie` asked for. The file holds secrets,
//! so it is written with mode 0600 and replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use protection_cookie::set_cookie;
use reqwest::header::SET_COOKIE;
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::http::describe_transport;
use crate::preview::Preview;
use crate::secret::Secret;
use crate::{actions, poll};

/// The file name in `$RUNNER_TEMP` when the job names none.
pub(crate) const DEFAULT_FILE: &str = "ci-preview-storage-state.json";

/// Where a state file goes: `given` when set, else [`DEFAULT_FILE`] in the runner's temp folder
/// (`RUNNER_TEMP`); outside Actions with neither, an error ending in `fix`.
pub(crate) fn file_path(
    given: Option<&Path>,
    runner_temp: Option<&Path>,
    fix: &str,
) -> Result<PathBuf> {
    if let Some(given) = given.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(given.to_owned());
    }
    let temp = runner_temp
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| CliError::missing_var(crate::env::RUNNER_TEMP, fix))?;
    Ok(temp.join(DEFAULT_FILE))
}
/// Header that asks Vercel to turn a bypass into a cookie (`true`: SameSite=Lax).
pub(crate) const SET_BYPASS_COOKIE: &str = "x-vercel-set-bypass-cookie";

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

/// A `Set-Cookie` header of the priming response, scoped to `host` (read by the endpoint's own
/// parser, so client and endpoint agree); `None` if it is malformed or deletes the cookie.
pub(crate) fn parse_set_cookie(
    header: &str,
    host: &str,
    secure_origin: bool,
    now: i64,
) -> Option<Cookie> {
    let cookie = set_cookie::parse(header, host, secure_origin, now)?;
    Some(Cookie {
        value: Secret::new(&cookie.value),
        expires: (cookie.expires >= 0).then_some(cookie.expires),
        same_site: match cookie.same_site {
            "Strict" => SameSite::Strict,
            "None" => SameSite::None,
            _ => SameSite::Lax,
        },
        name: cookie.name,
        domain: cookie.domain,
        path: cookie.path,
        http_only: cookie.http_only,
        secure: cookie.secure,
    })
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

/// One request that asks Vercel for its protection cookie; the `Set-Cookie`s of the answer
/// (usually a redirect, never followed), masked, scoped to the preview's host.
pub(crate) async fn prime(
    client: &reqwest::Client,
    preview: &Preview,
    host: &str,
    secure: bool,
) -> Result<Vec<Cookie>> {
    let response = client
        .get(preview.base().clone())
        .headers(preview.headers().await?)
        .header(SET_BYPASS_COOKIE, "true")
        .send()
        .await
        .map_err(|err| {
            CliError::check(format!(
                "the priming request to {} failed: {}",
                preview.origin(),
                describe_transport(&err)
            ))
        })?;
    let now = poll::unix_now();
    let cookies: Vec<Cookie> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| parse_set_cookie(v, host, secure, now))
        .filter(|c| c.name != OVERRIDE_COOKIE)
        .collect();
    for cookie in &cookies {
        actions::mask(cookie.value.expose());
    }
    if cookies.is_empty() {
        actions::warning(&format!(
            "the priming request got no protection cookie from {} (HTTP {}): the browser will meet \
             Deployment Protection unless the preview is unprotected",
            preview.origin(),
            response.status().as_u16()
        ));
    }
    Ok(cookies)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    /// The parser is `protection_cookie::set_cookie`'s (tested there); this is the conversion.
    #[test]
    fn a_set_cookie_becomes_the_clients_cookie() {
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
        let session = parse_set_cookie("b=1; SameSite=Strict", "h", false, NOW).unwrap();
        assert_eq!(
            (session.expires, session.same_site),
            (None, SameSite::Strict)
        );
        assert!(!session.secure);
        assert!(parse_set_cookie("a=1; Max-Age=0", "h", true, NOW).is_none());
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
