//! Fetching an issuer's keys over HTTP: discovery, the JWKS itself, and its `Cache-Control`.
//!
//! The only URLs ever requested are the configured issuer's discovery document and the
//! configured (or discovered) `jwks_uri`, never anything named by a token. The discovery
//! document's `issuer` must equal the configured issuer byte for byte (OpenID Connect
//! Discovery §4.3), so a document served from the right host for another issuer is refused.
//! Bodies are size-capped and every fetch is bounded by the store's timeout.

use std::time::Duration;

use reqwest::header::CACHE_CONTROL;
use serde::Deserialize;

use super::{KeyStoreError, KeyStoreOptions};
use crate::config::check_url;

/// Where the keys come from.
#[derive(Debug)]
pub(crate) struct RemoteSource {
    pub(crate) issuer: String,
    /// Configured `jwks_url`; `None` = use discovery.
    pub(crate) jwks_url: Option<String>,
    pub(crate) client: reqwest::Client,
}

/// A fetched JWKS body and how long the issuer says it stays fresh.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

impl RemoteSource {
    /// The discovery document's URL for this issuer.
    pub(crate) fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// Resolves the JWKS URL (via discovery when not configured), then fetches it.
    pub(crate) async fn fetch(&self, opts: &KeyStoreOptions) -> Result<Fetched, KeyStoreError> {
        let jwks_url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => self.discover(opts).await?,
        };
        let (body, max_age) = get(&self.client, &jwks_url, opts).await?;
        Ok(Fetched { body, max_age })
    }

    async fn discover(&self, opts: &KeyStoreOptions) -> Result<String, KeyStoreError> {
        let url = self.discovery_url();
        let (body, _) = get(&self.client, &url, opts).await?;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|e| {
            KeyStoreError::Discovery(format!("{url}: not a discovery document: {e}"))
        })?;
        match doc.issuer {
            Some(issuer) if issuer == self.issuer => {}
            other => {
                return Err(KeyStoreError::IssuerMismatch {
                    expected: self.issuer.clone(),
                    actual: other.unwrap_or_else(|| crate::rejection::MISSING.to_owned()),
                });
            }
        }
        let jwks_uri = doc
            .jwks_uri
            .ok_or_else(|| KeyStoreError::Discovery(format!("{url}: no jwks_uri")))?;
        check_url("jwks_uri", &jwks_uri)
            .map_err(|e| KeyStoreError::Discovery(format!("{url}: {e}")))?;
        Ok(jwks_uri)
    }
}

/// An error and its causes, one after the other. reqwest's own text stops at "error sending
/// request"; whether the connection was refused, the name did not resolve or the certificate
/// chains to no trusted root (a container image without CA roots) is only in the sources.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and reqwest repeat an inner error's text in their own; say each thing once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// GETs `url`: status 200 required, body capped at `opts.max_body_bytes`.
async fn get(
    client: &reqwest::Client,
    url: &str,
    opts: &KeyStoreOptions,
) -> Result<(Vec<u8>, Option<Duration>), KeyStoreError> {
    let fetch_err =
        |e: reqwest::Error| KeyStoreError::Fetch(format!("{url}: {}", causes(&e.without_url())));
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(opts.timeout)
        .send()
        .await
        .map_err(fetch_err)?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(KeyStoreError::Fetch(format!(
            "{url}: HTTP {}",
            status.as_u16()
        )));
    }
    let max_age = response
        .headers()
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch_err)? {
        if body.len() + chunk.len() > opts.max_body_bytes {
            return Err(KeyStoreError::Fetch(format!(
                "{url}: body larger than {} bytes",
                opts.max_body_bytes
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

/// `max-age=N` from one `Cache-Control` value; `no-cache`/`no-store` mean "refresh soon" (0).
pub(crate) fn parse_max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            found = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_max_age("Max-Age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=-1"), None);
    }
}
