//! The Redis replay store, for replicas behind a load balancer (and previews sharing one
//! endpoint audience): every instance records into the same Redis, so a token is accepted once
//! between all of them.
//!
//! One command does the check and the insert atomically: `SET key 1 NX EX ttl` answers `OK` when
//! the key was absent (first use) and nil when it was present (replay). The connection is the
//! kit's [`KvClient`] (multiplexed, self-healing, TLS, timeouts, redacted URL): after an outage
//! the next command starts a reconnect and service comes back without a restart. Until then
//! every command fails fast and the request gets a 503.

use crate::{KvClient, KvError};

use super::{Recorded, ReplayBackend, ReplayError, ReplayKey, StoreFuture};

#[derive(Debug)]
pub(super) struct RedisStore {
    client: KvClient,
}

impl RedisStore {
    pub(super) fn new(client: KvClient) -> RedisStore {
        RedisStore { client }
    }
}

impl From<KvError> for ReplayError {
    fn from(error: KvError) -> ReplayError {
        match error {
            KvError::Config(detail) => ReplayError::Config(detail),
            KvError::Timeout { timeout, .. } => ReplayError::Timeout(timeout),
            other => ReplayError::Unavailable(other.to_string()),
        }
    }
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
            let answer: Option<String> = self
                .client
                .query(
                    redis::cmd("SET")
                        .arg(key.redis_key())
                        .arg(1)
                        .arg("NX")
                        .arg("EX")
                        .arg(ttl),
                )
                .await?;
            match answer.as_deref() {
                Some("OK") => Ok(Recorded::First),
                None => Ok(Recorded::Replay),
                Some(other) => Err(ReplayError::Unavailable(format!(
                    "redis at {}: unexpected answer to SET NX: {other:?}",
                    self.client.redacted_url()
                ))),
            }
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { Ok(self.client.ping().await?) })
    }

    fn describe(&self) -> String {
        format!("redis at {}", self.client.redacted_url())
    }
}
