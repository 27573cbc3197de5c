//! The Redis replay store, for replicas behind a load balancer (and previews sharing one
//! endpoint audience): every instance records into the same Redis, so a token is accepted once
//! between all of them.
//!
//! One command does the check and the insert atomically: `SET key 1 NX EX ttl` answers `OK` when
//! the key was absent (first use) and nil when it was present (replay). The connection is a
//! `redis::aio::ConnectionManager`: multiplexed, so concurrent requests share one socket, and
//! self-healing, so after an outage the next command starts a reconnect and service comes back
//! without a restart. Until then every command fails fast and the request gets a 503.
//!
//! `rediss://` URLs use TLS (see [`super::tls`]). The URL may carry a password. It lives in a [`SecretString`] and only [`redact_url`] output
//! ever reaches a log or an error message.

use std::time::Duration;

use ci_oidc::SecretString;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Recorded, ReplayBackend, ReplayError, ReplayKey, StoreFuture, tls};

pub(super) struct RedisStore {
    manager: ConnectionManager,
    redacted: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.redacted)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Parses `url` and prepares a lazily connecting manager; nothing is sent yet. `extra_ca_pem`
    /// adds trust anchors for a `rediss://` URL (and is refused for a plain one: asking for a CA
    /// suggests TLS was meant).
    pub(super) fn open(
        url: &SecretString,
        timeout: Duration,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<RedisStore, ReplayError> {
        let redacted = redact_url(url.expose_secret());
        let config_error =
            |e: redis::RedisError| ReplayError::Config(format!("{redacted}: {}", describe(&e)));
        let client = if tls::wants_tls(url.expose_secret()) {
            let certificates = tls::certificates(extra_ca_pem)?;
            redis::Client::build_with_tls(url.expose_secret(), certificates)
                .map_err(config_error)?
        } else if extra_ca_pem.is_some() {
            return Err(ReplayError::Config(format!(
                "{redacted}: a CA file is given but the URL is not rediss:// (TLS)"
            )));
        } else {
            redis::Client::open(url.expose_secret()).map_err(config_error)?
        };
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
        Ok(RedisStore { manager, redacted })
    }

    fn unavailable(&self, error: &redis::RedisError) -> ReplayError {
        ReplayError::Unavailable(format!("redis at {}: {}", self.redacted, describe(error)))
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

impl ReplayBackend for RedisStore {
    fn record<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, Recorded> {
        Box::pin(async move {
            // At least one second: `EX 0` is an error, and a token verified this second may
            // still be presented within it.
            let ttl = (expires_at - now).max(1);
            let mut connection = self.manager.clone();
            let answer: Option<String> = redis::cmd("SET")
                .arg(key.redis_key())
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.unavailable(&e))?;
            match answer.as_deref() {
                Some("OK") => Ok(Recorded::First),
                None => Ok(Recorded::Replay),
                Some(other) => Err(ReplayError::Unavailable(format!(
                    "redis at {}: unexpected answer to SET NX: {other:?}",
                    self.redacted
                ))),
            }
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.manager.clone();
            let pong: String = redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .map_err(|e| self.unavailable(&e))?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(ReplayError::Unavailable(format!(
                    "redis at {}: PING answered {pong:?}",
                    self.redacted
                )))
            }
        })
    }

    fn describe(&self) -> String {
        format!("redis at {}", self.redacted)
    }
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
            let error = RedisStore::open(&SecretString::new(url), Duration::from_secs(1), None)
                .unwrap_err();
            assert!(matches!(error, ReplayError::Config(_)), "{url}: {error:?}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[tokio::test]
    async fn unreachable_redis_is_unavailable_quickly() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let store = RedisStore::open(
            &SecretString::new("redis://:hunter2@127.0.0.1:1/"),
            Duration::from_millis(500),
            None,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let error = store.ping().await.unwrap_err();
        assert!(matches!(error, ReplayError::Unavailable(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let key = ReplayKey::new("i", "a", "j");
        assert!(store.record(&key, 100, 0).await.is_err());
        assert!(!format!("{store:?}").contains("hunter2"));
    }
}
