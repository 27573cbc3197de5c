//! When a remote key store fetches: start-up, background refresh, unknown `kid`.
//!
//! All fetches of a store go through one async mutex, which makes them single-flight: callers
//! that arrive while a fetch runs wait for it and then use its result instead of fetching
//! again (they notice because the fetch counter moved). Unknown-`kid` refetches are further
//! limited to one per cooldown, counted from the last unknown-`kid` refetch only, so a flood of
//! invented `kid`s costs the issuer one request per cooldown. Start-up and background fetches do
//! not start the cooldown: they did not look for the new key, and counting them made a key the
//! issuer published just after start-up unusable for a whole cooldown (every job failing with
//! 401 during a GitHub key rotation). While a refetch is held back by the cooldown the caller is
//! told so, and answers 503 with `Retry-After` (retryable) instead of 401.
//!
//! The rotation probe. One anonymous token with a random `kid` arms the cooldown, and a real
//! rotation inside it then waits up to a whole cooldown. Whether a token verifies against fresh
//! keys cannot be known without fetching them, and every fetch a token can cause an attacker's
//! token can cause too, so no rule can let only good tokens fetch. What can be had: a second,
//! separate budget, one probe per `rotation_probe_interval` (10 s), spent only by a token whose
//! unverified claims would pass the endpoint's policy (issuer, exact audience, fresh times,
//! repository and owner ids, exact workflow, event). The random-`kid` nuisance (which does not
//! know or bother with those) arms the cooldown but never the probe, so a rotation is picked up
//! at once; an attacker who writes matching claims (public for a public repository) can hold the
//! probe too, and then a rotation waits at most the probe interval (instead of the cooldown)
//! before its retry. The issuer sees at most one fetch per cooldown plus one per probe
//! interval: bounded, not a flood path. The background
//! task refreshes at four fifths of the issuer's `max-age` (clamped), and after a failure
//! retries with a doubling delay; the last good keys stay in use throughout.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Inner, KeySet, KeyStoreError};

/// The two separate budgets a token the current keys cannot verify may spend on a refetch.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// Any token with an unknown `kid`: one per `unknown_kid_cooldown`.
    UnknownKid,
    /// A token whose unverified claims pass the policy: one per `rotation_probe_interval`.
    RotationProbe,
}

/// Scheduling state, guarded by the store's refresh mutex.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    last_unknown_kid: Option<Instant>,
    last_rotation_probe: Option<Instant>,
    next_due: Option<Instant>,
    failures: u32,
}

impl Inner {
    /// Fetches now (waiting for a fetch already running); no-op for static stores.
    pub(crate) async fn fetch_now(&self) -> Result<(), KeyStoreError> {
        if self.remote.is_none() {
            return Ok(());
        }
        let mut state = self.refresh.lock().await;
        self.fetch_locked(&mut state).await
    }

    /// See [`super::KeyStore::refetch_for_unknown_kid`]. The flag is true when a refetch was
    /// due (nobody fetched since `fetches_before`) but the cooldown held it back.
    pub(crate) async fn refetch_for_unknown_kid(&self, fetches_before: u64) -> (Arc<KeySet>, bool) {
        self.refetch_within(Budget::UnknownKid, fetches_before)
            .await
    }

    /// See [`super::KeyStore::probe_rotation`]. The flag is true when a probe was due (nobody
    /// fetched since `fetches_before`) but the probe interval held it back.
    pub(crate) async fn probe_rotation(&self, fetches_before: u64) -> (Arc<KeySet>, bool) {
        self.refetch_within(Budget::RotationProbe, fetches_before)
            .await
    }

    /// A refetch on a token's behalf, spent from `budget`: none when another fetch came since
    /// `fetches_before` (its keys are the answer), none but the flag when the budget's interval
    /// has not passed since its last refetch.
    async fn refetch_within(&self, budget: Budget, fetches_before: u64) -> (Arc<KeySet>, bool) {
        let mut suppressed = false;
        if self.remote.is_some() {
            let mut state = self.refresh.lock().await;
            if self.fetches.load(Ordering::SeqCst) == fetches_before {
                let (last, interval) = match budget {
                    Budget::UnknownKid => {
                        (&mut state.last_unknown_kid, self.opts.unknown_kid_cooldown)
                    }
                    Budget::RotationProbe => (
                        &mut state.last_rotation_probe,
                        self.opts.rotation_probe_interval,
                    ),
                };
                if last.is_none_or(|t| t.elapsed() >= interval) {
                    *last = Some(Instant::now());
                    if let Budget::RotationProbe = budget {
                        tracing::info!(
                            "rotation probe: refetching the issuer's keys for a token whose claims pass the policy"
                        );
                    }
                    // The error is logged inside; the caller answers "unknown key" either way.
                    let _ = self.fetch_locked(&mut state).await;
                } else {
                    suppressed = true;
                }
            }
        }
        (self.current(), suppressed)
    }

    async fn fetch_locked(&self, state: &mut RefreshState) -> Result<(), KeyStoreError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(self.opts.timeout, remote.fetch(&self.opts)).await {
            Err(_) => Err(KeyStoreError::Timeout(self.opts.timeout)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(fetched)) => self.install(&fetched.body).map(|()| fetched.max_age),
        };
        // Counted after the new keys are installed: a caller that sees the new count is sure
        // to see the new keys, so it never refetches for a kid that just arrived.
        self.fetches.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(max_age) => {
                let fresh = max_age.unwrap_or(self.opts.default_max_age).clamp(
                    self.opts.min_max_age,
                    self.opts.max_max_age.max(self.opts.min_max_age),
                );
                state.next_due = Some(started + fresh - fresh / 5);
                state.failures = 0;
                tracing::debug!(kids = ?self.current().kids(), ?fresh, "JWKS loaded");
                Ok(())
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                state.next_due = Some(Instant::now() + self.backoff(state.failures));
                tracing::warn!(%error, "JWKS fetch failed; keeping the last good keys");
                Err(error)
            }
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let cap = self.opts.min_max_age.max(self.opts.retry_backoff);
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.opts.retry_backoff.saturating_mul(factor).min(cap)
    }
}

/// The background refresh loop; ends when the store is dropped.
pub(crate) async fn run(weak: Weak<Inner>) {
    loop {
        let delay = {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let state = inner.refresh.lock().await;
            state.next_due.map_or(Duration::ZERO, |due| {
                due.saturating_duration_since(Instant::now())
            })
        };
        tokio::time::sleep(delay).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let mut state = inner.refresh.lock().await;
        // Another fetch (start-up, unknown kid) may have pushed the deadline out meanwhile.
        if state.next_due.is_none_or(|due| due <= Instant::now()) {
            let _ = inner.fetch_locked(&mut state).await;
        }
    }
}
