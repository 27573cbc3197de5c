//! The `[issuer]` table of the policy and the rules for issuer and JWKS URLs.
//!
//! Keys are only ever fetched from URLs written in the reviewed policy (or the discovery
//! document of that issuer), never from a URL inside a token. Those URLs must be `https`; plain
//! `http` is allowed on a loopback host only, so tests and local runs work without TLS while
//! no deployment can be pointed at a key server anyone on the path could impersonate.

use std::path::PathBuf;

use serde::Deserialize;
use url::{Host, Url};

/// Which issuer to trust and where its keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` value; `https://token.actions.githubusercontent.com` for GitHub.
    pub url: String,
    /// JWKS location; default: `jwks_uri` of `{url}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Static JWKS file: no fetching at all (offline runs, air-gapped hosts, benchmarks).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
}

/// GitHub Actions' issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

impl Default for IssuerConfig {
    fn default() -> Self {
        Self {
            url: GITHUB_ACTIONS_ISSUER.to_owned(),
            jwks_url: None,
            jwks_file: None,
        }
    }
}

/// An issuer or JWKS URL that may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct UrlError {
    /// The policy key, e.g. `issuer.url`.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl IssuerConfig {
    /// Checks the URLs and that at most one key source is given.
    pub fn validate(&self) -> Result<(), UrlError> {
        check_url("issuer.url", &self.url)?;
        if let Some(jwks_url) = &self.jwks_url {
            check_url("issuer.jwks_url", jwks_url)?;
        }
        if self.jwks_url.is_some() && self.jwks_file.is_some() {
            return Err(UrlError {
                key: "issuer.jwks_file",
                message: "give either jwks_url or jwks_file, not both".to_owned(),
            });
        }
        Ok(())
    }
}

/// Parses `raw` and enforces: https, or http on a loopback host; no credentials or fragment.
pub(crate) fn check_url(key: &'static str, raw: &str) -> Result<Url, UrlError> {
    let err = |message: &str| UrlError {
        key,
        message: message.to_owned(),
    };
    if raw.trim() != raw || raw.is_empty() {
        return Err(err("must be a URL without surrounding whitespace"));
    }
    let url = Url::parse(raw).map_err(|e| UrlError {
        key,
        message: format!("not a URL: {e}"),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(err("must not have a fragment"));
    }
    let host = url.host().ok_or_else(|| err("must have a host"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&host) => Ok(url),
        "http" => Err(err("http is allowed on a loopback host only; use https")),
        _ => Err(err("scheme must be https")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(check_url("k", "https://token.actions.githubusercontent.com").is_ok());
        assert!(check_url("k", "http://127.0.0.1:8080").is_ok());
        assert!(check_url("k", "http://[::1]:8080").is_ok());
        assert!(check_url("k", "http://localhost:1").is_ok());
        assert!(check_url("k", "http://example.com").is_err());
        assert!(check_url("k", "http://127.0.0.1.example.com").is_err());
        assert!(check_url("k", "ftp://127.0.0.1").is_err());
        assert!(check_url("k", "https://u:p@example.com").is_err());
        assert!(check_url("k", "https://example.com#x").is_err());
        assert!(check_url("k", " https://example.com").is_err());
    }

    #[test]
    fn both_sources_refused() {
        let cfg = IssuerConfig {
            jwks_url: Some("https://a/jwks".into()),
            jwks_file: Some("k.json".into()),
            ..IssuerConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().key, "issuer.jwks_file");
    }
}
