//! The key-value client endpoints share: a Redis-protocol connection (Redis, Valkey, a hosted
//! Redis from the Vercel Marketplace, Upstash's Redis endpoint) with what a request path needs and
//! what every endpoint would otherwise get wrong on its own: TLS verified against the embedded
//! Mozilla roots (`rediss://`, see [`tls`]), a connect timeout and a per-command timeout, fail
//! fast while the server is down and reconnect by itself afterwards, and a URL that reaches logs
//! and errors only with its password redacted ([`redact_url`]). The replay store of `single_use`
//! endpoints is built on it.
//!
//! An endpoint declares the URL like any secret and queries through the client; a
//! [`KvError`] converts into the contract's 503 (`?` in a handler):
//!
//! ```no_run
//! use ci_endpoint::{CiError, Endpoint, KvClient, Secret, VerifiedCaller};
//! use axum::routing::post;
//!
//! async fn count(_caller: VerifiedCaller, kv: Secret<KvClient>) -> Result<String, CiError> {
//!     let size: u64 = kv.get()?.query(&ci_endpoint::redis::cmd("DBSIZE")).await?;
//!     Ok(size.to_string())
//! }
//!
//! pub fn endpoint() -> Endpoint {
//!     Endpoint::new("kv/count", post(count)).with_secret("KV_URL", KvClient::parse)
//! }
//! ```

mod tls;

use std::{fmt, time::Duration};

use ci_oidc::SecretString;
use redis::{
    FromRedisValue,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::CiError;

/// Longest a connection attempt or one command may take before it fails with
/// [`KvError::Timeout`]: short, because a request waits on it; long enough for a store in
/// another region.
pub const DEFAULT_KV_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis-protocol client. Cheap to clone: clones share one multiplexed connection.
///
/// `Debug` and every error show the URL redacted (`redis://:redacted@host:6379/0`).
#[derive(Clone)]
pub struct KvClient {
    manager: ConnectionManager,
    redacted: String,
    timeout: Duration,
}

/// Why a key-value command failed. Messages never hold a password. In a handler, `?` turns it
/// into 503 `unavailable` with `Retry-After` (logged with this detail): fail closed, and the
/// client retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The URL or CA is unusable: a start-up error.
    #[error("key-value store configuration: {0}")]
    Config(String),
    /// The server could not be reached or answered with an error.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// No answer within the timeout.
    #[error("key-value store at {store} did not answer within {timeout:?}")]
    Timeout {
        /// The redacted URL.
        store: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
}

impl From<KvError> for CiError {
    fn from(error: KvError) -> CiError {
        tracing::error!(%error, "the key-value store cannot answer (fail closed)");
        CiError::Unavailable
    }
}

impl KvClient {
    /// A client for `url` (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// `redis+unix:///path`), with [`DEFAULT_KV_TIMEOUT`]. Only parses the URL: it connects on
    /// first use (call [`KvClient::ping`] to connect now). Must run inside a Tokio runtime, as the
    /// kit's start-up does.
    pub fn open(url: &SecretString) -> Result<KvClient, KvError> {
        KvClient::open_with_ca(url, None)
    }

    /// Like [`KvClient::open`]; a `rediss://` server is verified against the embedded Mozilla
    /// roots plus the PEM certificates of `extra_ca_pem` (a private CA). A CA for a plain
    /// `redis://` URL is refused: it suggests TLS was meant.
    pub fn open_with_ca(
        url: &SecretString,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<KvClient, KvError> {
        let text = url.expose_secret().trim();
        let redacted = redact_url(text);
        let config_error =
            |e: redis::RedisError| KvError::Config(format!("{redacted}: {}", describe(&e)));
        let client = if tls::wants_tls(text) {
            let certificates = tls::certificates(extra_ca_pem)?;
            redis::Client::build_with_tls(text, certificates).map_err(config_error)?
        } else if extra_ca_pem.is_some() {
            return Err(KvError::Config(format!(
                "{redacted}: a CA file is given but the URL is not rediss:// (TLS)"
            )));
        } else {
            redis::Client::open(text).map_err(config_error)?
        };
        let timeout = DEFAULT_KV_TIMEOUT;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Few, quick retries: a request waits at most `timeout` anyway, and a reconnect that
            // gave up is started again by the next command.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250));
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(config_error)?;
        Ok(KvClient {
            manager,
            redacted,
            timeout,
        })
    }

    /// [`KvClient::open`] for [`crate::Endpoint::with_secret`]: `with_secret("KV_URL",
    /// KvClient::parse)` makes the URL a secret of the endpoint (missing: `ready:false`;
    /// malformed: start-up stops naming the variable, never showing the password).
    pub fn parse(url: &str) -> Result<KvClient, String> {
        KvClient::open(&SecretString::new(url)).map_err(|e| e.to_string())
    }

    /// The same client with another connect and command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> KvClient {
        self.timeout = timeout;
        self
    }

    /// Runs one command (`redis::cmd("GET").arg(key)`) and converts its answer into `T`, within
    /// the timeout.
    pub async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, KvError> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(self.timeout, command.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.unavailable(&error)),
            Err(_) => Err(KvError::Timeout {
                store: self.redacted.clone(),
                timeout: self.timeout,
            }),
        }
    }

    /// The keys matching `pattern` (Redis glob syntax), found with `SCAN` (never `KEYS`, which
    /// blocks the server), at most `limit` of them; the boolean says whether more may match.
    /// Each round trip is one command under the timeout.
    pub async fn scan(&self, pattern: &str, limit: usize) -> Result<(Vec<String>, bool), KvError> {
        let mut keys = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            for key in batch {
                // SCAN may return a key twice; a caller counting deletions must not count it so,
                // nor read a repeat past the limit as "more may match".
                if seen.contains(&key) {
                    continue;
                }
                if keys.len() == limit {
                    return Ok((keys, true));
                }
                seen.insert(key.clone());
                keys.push(key);
            }
            if next == 0 {
                return Ok((keys, false));
            }
            cursor = next;
        }
    }

    /// Checks the server answers `PING`, within the timeout.
    pub async fn ping(&self) -> Result<(), KvError> {
        let pong: String = self.query(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(KvError::Unavailable(format!(
                "{}: PING answered {pong:?}",
                self.redacted
            )))
        }
    }

    /// Where the client connects, for logs: the URL with its password redacted.
    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }

    fn unavailable(&self, error: &redis::RedisError) -> KvError {
        KvError::Unavailable(format!("{}: {}", self.redacted, describe(error)))
    }
}

impl fmt::Debug for KvClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvClient")
            .field("url", &self.redacted)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A Redis error for a log line. Redis errors carry server messages and I/O errors, not the
/// connection URL, but only the kind, code and detail are used, to be sure.
fn describe(error: &redis::RedisError) -> String {
    let mut text = format!("{:?}", error.kind());
    if let Some(code) = error.code() {
        text.push_str(&format!(" {code}"));
    }
    if let Some(detail) = error.detail() {
        text.push_str(&format!(": {detail}"));
    } else if error.is_io_error() || error.is_timeout() || error.is_connection_refusal() {
        text.push_str(&format!(": {error}"));
    }
    text
}

/// `url` with its password, query and fragment replaced by `redacted`, for logs. The user name,
/// host, port and database stay, which is what an operator needs to recognise the store. Anything
/// that does not parse as a URL is not shown at all.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url.trim()) else {
        return "[unparseable URL, redacted]".to_owned();
    };
    if parsed.password().is_some() {
        // Cannot fail: the URL has a host (it had a password).
        let _ = parsed.set_password(Some("redacted"));
    }
    if parsed.query().is_some() {
        parsed.set_query(Some("redacted"));
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some("redacted"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_where_and_drops_secrets() {
        let cases = [
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            (
                "redis://:hunter2@cache.internal:6380/2",
                "redis://:redacted@cache.internal:6380/2",
            ),
            (
                "redis://app:hunter2@cache.internal/",
                "redis://app:redacted@cache.internal/",
            ),
            (
                "redis+unix:///run/redis.sock?db=1&pass=hunter2",
                "redis+unix:///run/redis.sock?redacted",
            ),
            ("rediss://h:1/#hunter2", "rediss://h:1/#redacted"),
        ];
        for (url, redacted) in cases {
            let out = redact_url(url);
            assert_eq!(out, redacted);
            assert!(!out.contains("hunter2"));
        }
        assert_eq!(
            redact_url("hunter2 is not a url"),
            "[unparseable URL, redacted]"
        );
    }

    #[tokio::test]
    async fn malformed_urls_are_config_errors_without_the_password() {
        for url in [
            "http://:hunter2@host/",
            "redis://:hunter2@host/notadb",
            "hunter2",
        ] {
            let error = KvClient::open(&SecretString::new(url)).unwrap_err();
            assert!(matches!(error, KvError::Config(_)), "{url}: {error:?}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(!KvClient::parse(url).unwrap_err().contains("hunter2"));
        }
    }

    #[tokio::test]
    async fn unreachable_redis_is_unavailable_quickly() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let client = KvClient::open(&SecretString::new("redis://:hunter2@127.0.0.1:1/"))
            .unwrap()
            .with_timeout(Duration::from_millis(500));
        let started = std::time::Instant::now();
        let error = client.ping().await.unwrap_err();
        assert!(
            matches!(error, KvError::Unavailable(_) | KvError::Timeout { .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!format!("{client:?}").contains("hunter2"));
        assert_eq!(CiError::from(error), CiError::Unavailable);
    }
}
