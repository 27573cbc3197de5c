//! Single-use tokens (`single_use = true`): where the `jti` of each accepted token is recorded, so
//! that a second presentation of the same token is refused.
//!
//! A token is a bearer credential valid for about five minutes; whoever sees it (a log, a proxy,
//! the preview that received it, which runs the PR's code) can present it again. Recording each
//! `jti` until the token can no longer pass the time checks turns "five minutes of calls" into
//! "one call".
//!
//! The record must be atomic ("insert if absent") so two concurrent presentations cannot both
//! win, and it must outlive the token: it is kept until `exp` + the verifier's leeway +
//! [`RETENTION_MARGIN_SECS`]. Two stores ship:
//!
//! - in memory ([`ReplayStore::in_memory`], the default): one process only, bounded (expired
//!   entries are purged on every insert; when [`DEFAULT_MEMORY_CAPACITY`] live entries exist, new
//!   tokens are refused with 503 rather than forgetting a live one);
//! - Redis ([`ReplayStore::redis`], `CI_PREVIEW_REDIS_URL`): shared by every replica, `SET key 1
//!   NX EX ttl`.
//!
//! Any store error (unreachable, timeout, full) fails closed: the caller gets
//! `503 {"error":"unavailable"}` with `Retry-After`, never an unchecked pass. A store that cannot
//! say whether the token was seen cannot let it through, and a 503 is what the client retries
//! (with a freshly minted token), whereas a 401 would end the CI job.

mod memory;
mod redis;

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use ci_oidc::SecretString;

use crate::KvClient;

/// Seconds a `jti` is kept beyond `exp` + leeway: covers clock differences between the replicas
/// sharing a store and the time a request spends between verification and recording.
pub const RETENTION_MARGIN_SECS: i64 = 60;

/// Live entries the in-memory store holds before it refuses new tokens (fail closed). An entry is
/// about 150 bytes, so this bounds the store at roughly 15 MB; entries live at most about 13
/// minutes (the verifier's maximum lifetime plus leeway and margin), so it is only reached by more
/// than a hundred verified single-use calls a second, sustained.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

/// Longest a store may take to answer before the request is refused with 503. Short, because the
/// request waits on it; long enough for a store in another region.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// Prefix of every Redis key this crate writes.
pub const REDIS_KEY_PREFIX: &str = "ci-preview:jti:";

/// The identity of one token in a store: a digest of the audience (the namespace) and a digest of
/// issuer and `jti`. Fixed size whatever the token carries, so a long `jti` cannot make keys or
/// memory grow, and nothing in it needs escaping.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey {
    audience: [u8; 16],
    token: [u8; 32],
}

impl ReplayKey {
    /// The key of the token `jti` minted by `issuer` for `audience`.
    pub fn new(issuer: &str, audience: &str, jti: &str) -> ReplayKey {
        let mut audience_digest = [0u8; 16];
        audience_digest.copy_from_slice(&sha256(&[audience.as_bytes()])[..16]);
        ReplayKey {
            audience: audience_digest,
            token: sha256(&[issuer.as_bytes(), jti.as_bytes()]),
        }
    }

    /// `ci-preview:jti:{32 hex of the audience}:{64 hex of issuer and jti}` (111 bytes).
    pub fn redis_key(&self) -> String {
        format!(
            "{REDIS_KEY_PREFIX}{}:{}",
            hex(&self.audience),
            hex(&self.token)
        )
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redis_key())
    }
}

/// SHA-256 of the parts, each prefixed with its length so that no two lists of parts collide.
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut framed = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
    for part in parts {
        framed.extend_from_slice(&(part.len() as u64).to_be_bytes());
        framed.extend_from_slice(part);
    }
    ci_oidc::sha256(&framed)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What recording a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The token had not been seen: it is now recorded and may be used.
    First,
    /// The token was already recorded: a replay.
    Replay,
}

/// Why a store could not answer. Every variant is refused with 503 (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store could not be reached or answered with an error. The detail never holds a
    /// password (URLs are redacted).
    #[error("replay store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer within the timeout.
    #[error("replay store did not answer within {0:?}")]
    Timeout(Duration),
    /// The in-memory store holds its maximum of live entries.
    #[error("replay store full: {capacity} live entries")]
    Full {
        /// The store's capacity.
        capacity: usize,
    },
    /// The store's configuration is unusable (a malformed URL): a start-up error.
    #[error("replay store configuration: {0}")]
    Config(String),
}

/// The future a [`ReplayBackend`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ReplayError>> + Send + 'a>>;

/// A place to record tokens. Implement it to use another shared store; the kit ships memory and
/// Redis. `record` must be atomic: of any number of concurrent calls with one key, exactly one
/// may answer [`Recorded::First`].
pub trait ReplayBackend: Send + Sync + fmt::Debug + 'static {
    /// Records `key` until `expires_at` (seconds since the epoch) unless it is already recorded.
    fn record<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, Recorded>;

    /// Checks the store can answer (start-up uses it to fail early on a wrong URL or password).
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// What the store is, for logs: never a password.
    fn describe(&self) -> String;
}

/// The replay store shared by every single-use endpoint of a server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReplayStore {
    backend: Arc<dyn ReplayBackend>,
    timeout: Duration,
}

impl ReplayStore {
    /// An in-memory store of [`DEFAULT_MEMORY_CAPACITY`] entries: one process only.
    pub fn in_memory() -> ReplayStore {
        ReplayStore::in_memory_with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// An in-memory store refusing new tokens (503) once `capacity` live entries exist.
    pub fn in_memory_with_capacity(capacity: usize) -> ReplayStore {
        ReplayStore::custom(memory::MemoryStore::new(capacity))
    }

    /// A Redis store at `url` (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// or `redis+unix://`).
    /// Only parses the URL (a malformed one is [`ReplayError::Config`]); connects on first use
    /// and reconnects by itself after an outage. Call [`ReplayStore::ping`] to connect now.
    /// Must be called inside a Tokio runtime (the connection manager spawns a task).
    pub fn redis(url: &SecretString) -> Result<ReplayStore, ReplayError> {
        ReplayStore::redis_with_ca(url, None)
    }

    /// Like [`ReplayStore::redis`]; a `rediss://` (TLS) server is verified against the embedded
    /// Mozilla roots plus the PEM certificates of `extra_ca_pem` (a private CA).
    pub fn redis_with_ca(
        url: &SecretString,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<ReplayStore, ReplayError> {
        let client = KvClient::open_with_ca(url, extra_ca_pem)?.with_timeout(DEFAULT_STORE_TIMEOUT);
        Ok(ReplayStore::custom(redis::RedisStore::new(client)))
    }

    /// A store over any backend.
    pub fn custom(backend: impl ReplayBackend) -> ReplayStore {
        ReplayStore {
            backend: Arc::new(backend),
            timeout: DEFAULT_STORE_TIMEOUT,
        }
    }

    /// The same store with another answer timeout (default [`DEFAULT_STORE_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> ReplayStore {
        self.timeout = timeout;
        self
    }

    /// Records `key` until `expires_at` unless already recorded; a timeout is an error.
    pub async fn record(
        &self,
        key: &ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> Result<Recorded, ReplayError> {
        tokio::time::timeout(self.timeout, self.backend.record(key, expires_at, now))
            .await
            .unwrap_or(Err(ReplayError::Timeout(self.timeout)))
    }

    /// Checks the store answers, within the timeout.
    pub async fn ping(&self) -> Result<(), ReplayError> {
        tokio::time::timeout(self.timeout, self.backend.ping())
            .await
            .unwrap_or(Err(ReplayError::Timeout(self.timeout)))
    }

    /// What the store is, for logs (passwords redacted).
    pub fn describe(&self) -> String {
        self.backend.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_fixed_size_and_distinct() {
        let key = ReplayKey::new("https://iss", "https://aud", "jti-1");
        assert_eq!(key, ReplayKey::new("https://iss", "https://aud", "jti-1"));
        let redis = key.redis_key();
        assert_eq!(redis.len(), REDIS_KEY_PREFIX.len() + 32 + 1 + 64);
        assert!(redis.starts_with(REDIS_KEY_PREFIX));
        let long = ReplayKey::new("https://iss", "https://aud", &"x".repeat(100_000));
        assert_eq!(long.redis_key().len(), redis.len());
        for other in [
            ReplayKey::new("https://iss", "https://aud2", "jti-1"),
            ReplayKey::new("https://iss2", "https://aud", "jti-1"),
            ReplayKey::new("https://iss", "https://aud", "jti-2"),
            // Moving bytes between issuer and jti must not give the same key.
            ReplayKey::new("https://is", "https://aud", "sjti-1"),
        ] {
            assert_ne!(key, other);
            assert_ne!(redis, other.redis_key());
        }
        // Same audience, same namespace; another audience, another namespace.
        let same_aud = ReplayKey::new("https://iss", "https://aud", "jti-2").redis_key();
        assert_eq!(
            redis[..REDIS_KEY_PREFIX.len() + 33],
            same_aud[..REDIS_KEY_PREFIX.len() + 33]
        );
        assert_eq!(format!("{key:?}"), redis);
    }

    #[derive(Debug)]
    struct Stuck;

    impl ReplayBackend for Stuck {
        fn record<'a>(&'a self, _: &'a ReplayKey, _: i64, _: i64) -> StoreFuture<'a, Recorded> {
            Box::pin(std::future::pending())
        }
        fn describe(&self) -> String {
            "stuck".into()
        }
    }

    #[tokio::test]
    async fn a_store_that_does_not_answer_times_out() {
        let store = ReplayStore::custom(Stuck).with_timeout(Duration::from_millis(50));
        let key = ReplayKey::new("i", "a", "j");
        let started = std::time::Instant::now();
        assert_eq!(
            store.record(&key, 100, 0).await,
            Err(ReplayError::Timeout(Duration::from_millis(50)))
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(store.ping().await, Ok(()));
        assert_eq!(store.describe(), "stuck");
    }
}
