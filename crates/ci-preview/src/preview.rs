//! The preview deployment as a target: its validated base URL and the Deployment Protection guard
//! that goes with every request to it.
//!
//! The client refuses plain `http://` except to a loopback address (a test server or a local
//! `ci-preview-server`), so the bypass secret and tokens never travel unencrypted; `crate::http`
//! never follows a redirect to another host.
//! A `Preview` is only ever built from a URL the user gave (`--url`, `PREVIEW_URL`) or one that
//! discovery checked against the host allowlist (`crate::hosts`).

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use url::Url;

use crate::env;
use crate::error::{CliError, Result};
use crate::protection::Guard;

/// Every CI route lives under this prefix (`CONTRACT.md` §2).
pub(crate) const CI_PREFIX: &str = "/api/~/ci";

#[derive(Debug, Clone)]
pub(crate) struct Preview {
    base: Url,
    guard: Arc<Guard>,
}

impl Preview {
    pub(crate) fn new(url: &str, guard: Arc<Guard>) -> Result<Self> {
        let base = parse_preview_url(url)?;
        Ok(Self { base, guard })
    }

    /// `--url`/`PREVIEW_URL` (required; given by the user, so trusted as given) with the guard.
    pub(crate) fn from_flag(url: Option<&str>, guard: Arc<Guard>) -> Result<Self> {
        let url = env::required(
            url,
            env::PREVIEW_URL,
            "pass --url or set PREVIEW_URL (e.g. from `ci-preview discover`)",
        )?;
        Self::new(url, guard)
    }

    /// The origin, without a trailing slash: what `discover` prints and `smoke` outputs.
    pub(crate) fn origin(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    pub(crate) fn health_url(&self) -> Url {
        self.ci_url("health")
    }

    /// `/api/~/ci/{name}` for an endpoint name such as `flags/encrypt-override`.
    pub(crate) fn endpoint_url(&self, name: &str) -> Url {
        self.ci_url(name.trim_matches('/'))
    }

    fn ci_url(&self, rest: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{CI_PREFIX}/{rest}"));
        url
    }

    /// Headers sent on every request to the preview: the protection header, if any.
    pub(crate) async fn headers(&self) -> Result<HeaderMap> {
        self.guard.headers().await
    }
}

/// Accepts `https://host[:port][/...]`, a bare host (`app-git-x.vercel.app`), or `http://` to a
/// loopback address. Keeps only the origin: CI routes are absolute paths.
pub(crate) fn parse_preview_url(raw: &str) -> Result<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CliError::config("the preview URL is empty"));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let mut url = Url::parse(&with_scheme)
        .map_err(|err| CliError::config(format!("invalid preview URL {raw:?}: {err}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(CliError::config(format!(
                "refusing plain http to {raw}: the OIDC token and the bypass secret would travel \
                 unencrypted; use https (http is only allowed to a loopback address)"
            )));
        }
        other => {
            return Err(CliError::config(format!(
                "unsupported URL scheme {other:?} in {raw:?}"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CliError::config(format!(
            "the preview URL {raw:?} has no host"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CliError::config(
            "the preview URL must not carry credentials",
        ));
    }
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_get_https_and_paths_are_dropped() {
        let url = parse_preview_url("app-git-x-team.vercel.app/some/page?q=1").unwrap();
        assert_eq!(url.as_str(), "https://app-git-x-team.vercel.app/");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_preview_url("http://127.0.0.1:3000").is_ok());
        assert!(parse_preview_url("http://localhost:3000").is_ok());
        assert!(parse_preview_url("http://[::1]:3000").is_ok());
        let err = parse_preview_url("http://app.vercel.app").unwrap_err();
        assert!(
            err.message.contains("refusing plain http"),
            "{}",
            err.message
        );
        assert!(parse_preview_url("ftp://x").is_err());
        assert!(parse_preview_url("https://user:pw@x.vercel.app").is_err());
    }

    #[test]
    fn builds_ci_urls() {
        let preview = Preview::new("https://x.vercel.app/", Arc::new(Guard::None)).unwrap();
        assert_eq!(preview.origin(), "https://x.vercel.app");
        assert_eq!(
            preview.health_url().as_str(),
            "https://x.vercel.app/api/~/ci/health"
        );
        assert_eq!(
            preview.endpoint_url("/flags/encrypt-override").as_str(),
            "https://x.vercel.app/api/~/ci/flags/encrypt-override"
        );
    }
}
