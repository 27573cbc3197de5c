//! The upstream call: one HTTP client for every proxy endpoint (TLS verified against the Mozilla
//! roots compiled in, https only, no redirects followed, no environment proxy), the declared
//! request, a deadline over the whole exchange, the answer read under its cap, and the secret
//! scrubbed from it. Failures become the contract's 502/504 with a reason, logged here once.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use ci_endpoint::CiError;
use http::{HeaderName, HeaderValue, header};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{Part, ProxyConfig, parse_value};

/// The variable naming a PEM file of extra roots the upstream client trusts besides the Mozilla
/// set: an upstream behind a private CA, or a test CA. Read at start-up.
pub const UPSTREAM_CA_FILE_VAR: &str = "CI_PREVIEW_UPSTREAM_CA_FILE";

/// What `[redacted]` replaces the secret with in anything passed back or logged.
pub const REDACTED: &str = "[redacted]";

/// The HTTP client of the proxy endpoints; build it once and share it (clones share it). One
/// that could not be built answers every call 500 `misconfigured`, with the reason logged.
#[derive(Clone, Debug)]
pub struct UpstreamClient(Result<reqwest::Client, Arc<str>>);

impl UpstreamClient {
    /// The process's one client, [`UpstreamClient::from_env`] built on first use; a failure is
    /// logged then (at start-up, when the endpoints are made) and makes every call `misconfigured`.
    pub fn shared() -> UpstreamClient {
        static SHARED: OnceLock<UpstreamClient> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                UpstreamClient::from_env().unwrap_or_else(|error| {
                    tracing::error!("proxy endpoints cannot call their upstreams: {error}");
                    UpstreamClient(Err(error.into()))
                })
            })
            .clone()
    }

    /// Trusts the Mozilla roots compiled into the binary, and the PEM certificates of
    /// [`UPSTREAM_CA_FILE_VAR`] when it is set.
    pub fn from_env() -> Result<UpstreamClient, String> {
        let extra = match std::env::var_os(UPSTREAM_CA_FILE_VAR).filter(|v| !v.is_empty()) {
            Some(path) => std::fs::read(&path)
                .map_err(|e| format!("{UPSTREAM_CA_FILE_VAR}: {}: {e}", path.to_string_lossy()))?,
            None => Vec::new(),
        };
        UpstreamClient::with_extra_roots_pem(&extra)
    }

    /// Trusts the Mozilla roots and the certificates of the PEM bundle `pem` (may be empty).
    pub fn with_extra_roots_pem(pem: &[u8]) -> Result<UpstreamClient, String> {
        let mut roots: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect();
        if !pem.is_empty() {
            let extra = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                format!("{UPSTREAM_CA_FILE_VAR}: not a PEM certificate bundle: {e}")
            })?;
            roots.extend(extra);
        }
        ci_oidc::install_crypto_provider();
        reqwest::Client::builder()
            .user_agent(concat!("ci-in-preview-proxy/", env!("CARGO_PKG_VERSION")))
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tls_certs_only(roots)
            .build()
            .map(|client| UpstreamClient(Ok(client)))
            .map_err(|e| format!("cannot build the upstream HTTP client: {e}"))
    }
}

/// The value of the proxy's `${VAR}`: trimmed, never printed, zeroized on drop.
pub struct UpstreamSecret(Zeroizing<String>);

impl UpstreamSecret {
    /// The kit's start-up parser: any text a header can carry.
    pub fn parse(text: &str) -> Result<UpstreamSecret, String> {
        let text = text.trim();
        HeaderValue::from_str(text).map_err(|_| {
            "holds a character an HTTP header cannot carry (a line break or control character?)"
                .to_owned()
        })?;
        Ok(UpstreamSecret(Zeroizing::new(text.to_owned())))
    }

    /// The value, for the one header that carries it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UpstreamSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamSecret([redacted])")
    }
}

impl UpstreamClient {
    /// Calls the upstream with `body` (JSON) and the secret of `var`; the answer's JSON, scrubbed.
    pub(crate) async fn call(
        &self,
        config: &ProxyConfig,
        var: &str,
        body: Option<Vec<u8>>,
        secret: &str,
    ) -> Result<Value, CiError> {
        let started = Instant::now();
        if config.variables().iter().any(|named| named != var) {
            tracing::error!(
                "the policy's headers name a variable other than {var}, this endpoint's"
            );
            return Err(CiError::Misconfigured);
        }
        // Validated at start-up (EndpointConfig); a failure here is a bug, answered 500.
        let internal = |what: &str| {
            tracing::error!("the proxy's {what} does not parse although start-up validated it");
            CiError::Internal
        };
        let url = config.parsed_url().map_err(|_| internal("url"))?;
        let method = config.parsed_method().map_err(|_| internal("method"))?;
        let client = self.0.as_ref().map_err(|error| {
            tracing::error!("no upstream client: {error}");
            CiError::Misconfigured
        })?;
        let mut request = client.request(method, url);
        for (name, value) in &config.headers {
            let parts = parse_value(value).map_err(|_| internal("headers"))?;
            let text: Zeroizing<String> = Zeroizing::new(
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => t.as_str(),
                        Part::Var(_) => secret,
                    })
                    .collect(),
            );
            let mut value = HeaderValue::from_str(&text).map_err(|_| internal("headers"))?;
            value.set_sensitive(true);
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| internal("headers"))?;
            request = request.header(name, value);
        }
        if let Some(body) = body {
            if !config
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            request = request.body(body);
        }
        let cap = config.max_response_bytes;
        let outcome = tokio::time::timeout(config.timeout(), exchange(request, cap)).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let scrub = |text: &str| scrub_text(text, Some(secret));
        let (status, bytes) = match outcome {
            Ok(Ok(answer)) => answer,
            Ok(Err(failure)) => {
                let detail = scrub(&failure.detail);
                let reason = failure.reason;
                tracing::warn!(reason, elapsed_ms, "upstream call failed: {detail}");
                return Err(match failure.timeout {
                    true => CiError::GatewayTimeout { reason },
                    false => CiError::BadGateway { reason },
                });
            }
            Err(_) => {
                let timeout_secs = config.timeout_secs;
                tracing::warn!(
                    reason = "upstream_timeout",
                    elapsed_ms,
                    timeout_secs,
                    "upstream call timed out"
                );
                return Err(CiError::GatewayTimeout {
                    reason: "upstream_timeout",
                });
            }
        };
        let status = status.as_u16();
        let len = bytes.len();
        let answer = if bytes.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Object(serde_json::Map::new()))
        } else {
            serde_json::from_slice::<Value>(&bytes)
        };
        let Ok(mut answer) = answer else {
            tracing::warn!(
                reason = "upstream_not_json",
                status,
                len,
                elapsed_ms,
                "upstream answer is not JSON"
            );
            return Err(CiError::BadGateway {
                reason: "upstream_not_json",
            });
        };
        scrub_value(&mut answer, Some(secret));
        tracing::info!(status, len, elapsed_ms, "upstream answered");
        Ok(answer)
    }
}

/// Why the exchange did not produce a usable answer.
struct Failure {
    reason: &'static str,
    timeout: bool,
    detail: String,
}

fn fail(reason: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        reason,
        timeout: false,
        detail: detail.into(),
    }
}

fn transport(error: &reqwest::Error) -> Failure {
    // The chain says why (certificate refused, connection refused, reset): one line for the log.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure {
        reason: if error.is_timeout() {
            "upstream_timeout"
        } else {
            "upstream_unreachable"
        },
        timeout: error.is_timeout(),
        detail,
    }
}

/// Sends the request and reads a 2xx answer of at most `cap` bytes.
async fn exchange(
    request: reqwest::RequestBuilder,
    cap: usize,
) -> Result<(http::StatusCode, Bytes), Failure> {
    let mut response = request.send().await.map_err(|e| transport(&e))?;
    let status = response.status();
    if status.is_redirection() {
        // Never followed: the secret goes to the declared URL only.
        let to = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return Err(fail(
            "upstream_redirect",
            format!("HTTP {status} to {to:?}, not followed"),
        ));
    }
    if !status.is_success() {
        return Err(fail("upstream_error", format!("HTTP {status}")));
    }
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(fail(
            "upstream_too_large",
            format!("Content-Length above the cap of {cap} bytes"),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        if body.len() + chunk.len() > cap {
            return Err(fail(
                "upstream_too_large",
                format!("more than the cap of {cap} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, Bytes::from(body)))
}

/// `text` with every occurrence of the secret replaced.
pub(crate) fn scrub_text(text: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => text.replace(secret, REDACTED),
        None => text.to_owned(),
    }
}

/// Scrubs every string and key of a parsed answer (after JSON unescaping, so `\u0073k_…` is
/// caught as well as `sk_…`).
fn scrub_value(value: &mut Value, secret: Option<&str>) {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return;
    };
    match value {
        Value::String(text) if text.contains(secret) => *text = text.replace(secret, REDACTED),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, Some(secret))),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                scrub_value(&mut item, Some(secret));
                map.insert(key.replace(secret, REDACTED), item);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_reaches_every_string_and_key() {
        let mut answer =
            json!({"h": {"authorization": "Bearer sk_1"}, "sk_1": ["x sk_1 y", 1], "n": null});
        scrub_value(&mut answer, Some("sk_1"));
        assert_eq!(
            answer,
            json!({"h": {"authorization": "Bearer [redacted]"}, "[redacted]": ["x [redacted] y", 1], "n": null})
        );
        assert_eq!(scrub_text("a sk_1", Some("sk_1")), "a [redacted]");
        assert_eq!(scrub_text("a", Some("")), "a");
    }

    #[test]
    fn secrets_must_fit_a_header() {
        assert!(UpstreamSecret::parse("sk_test_1\n").is_ok());
        let error = UpstreamSecret::parse("a\nb").unwrap_err();
        assert!(error.contains("line break"), "{error}");
        assert_eq!(
            format!("{:?}", UpstreamSecret::parse("x").unwrap()),
            "UpstreamSecret([redacted])"
        );
    }
}
