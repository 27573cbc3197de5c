//! The in-memory replay store: the default, for a server that runs as one instance.
//!
//! Bounded two ways: every insert first purges the entries whose retention has passed (in expiry
//! order, so the cost is proportional to what is purged), and a hard cap on live entries beyond
//! which new tokens are refused (fail closed) rather than an unexpired entry being evicted, which
//! would re-open its token to replay. Only fully verified tokens reach the store, so filling it
//! takes the allowed workflow's own tokens, not junk.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, MutexGuard},
};

use super::{Recorded, ReplayBackend, ReplayError, ReplayKey, StoreFuture};

#[derive(Debug)]
pub(super) struct MemoryStore {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Live keys and the time (seconds since the epoch) until which each is kept.
    live: HashMap<ReplayKey, i64>,
    /// The same entries ordered by expiry, for purging the oldest first.
    by_expiry: BTreeSet<(i64, ReplayKey)>,
}

impl MemoryStore {
    pub(super) fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// The lock, even if a panic elsewhere poisoned it: every update below leaves the two maps
    /// consistent before anything that could panic, so the data stays usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The atomic check-and-insert, under one lock.
    fn record_now(
        &self,
        key: &ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> Result<Recorded, ReplayError> {
        let mut state = self.state();
        state.purge(now);
        if state.live.contains_key(key) {
            return Ok(Recorded::Replay);
        }
        if state.live.len() >= self.capacity {
            return Err(ReplayError::Full {
                capacity: self.capacity,
            });
        }
        state.live.insert(*key, expires_at);
        state.by_expiry.insert((expires_at, *key));
        Ok(Recorded::First)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state();
        assert_eq!(state.live.len(), state.by_expiry.len());
        state.live.len()
    }
}

impl State {
    /// Drops the entries kept until a time before `now`.
    fn purge(&mut self, now: i64) {
        while let Some(&(expires_at, key)) = self.by_expiry.first() {
            if expires_at >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.live.remove(&key);
        }
    }
}

impl ReplayBackend for MemoryStore {
    fn record<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, Recorded> {
        let result = self.record_now(key, expires_at, now);
        Box::pin(async move { result })
    }

    fn describe(&self) -> String {
        format!("in memory (this instance only, capacity {})", self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    fn key(jti: &str) -> ReplayKey {
        ReplayKey::new("https://issuer", "https://aud", jti)
    }

    #[test]
    fn first_then_replay_until_expiry() {
        let store = MemoryStore::new(10);
        assert_eq!(store.record_now(&key("a"), 1_000, 500), Ok(Recorded::First));
        assert_eq!(
            store.record_now(&key("a"), 1_000, 600),
            Ok(Recorded::Replay)
        );
        // Kept up to and including its expiry second.
        assert_eq!(
            store.record_now(&key("a"), 1_000, 1_000),
            Ok(Recorded::Replay)
        );
        // Once the time has passed the entry is purged (the verifier refuses the token by then).
        assert_eq!(
            store.record_now(&key("a"), 2_000, 1_001),
            Ok(Recorded::First)
        );
        assert_eq!(store.record_now(&key("b"), 1_000, 600), Ok(Recorded::First));
    }

    #[test]
    fn expired_entries_are_purged_on_insert() {
        let store = MemoryStore::new(1_000);
        for i in 0..100 {
            store.record_now(&key(&i.to_string()), 100 + i, 0).unwrap();
        }
        assert_eq!(store.len(), 100);
        store.record_now(&key("later"), 1_000, 150).unwrap();
        // 100..=149 expired before 150; 150..=199 remain, plus the new one.
        assert_eq!(store.len(), 51);
        store.record_now(&key("last"), 1_000, 999).unwrap();
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn full_store_fails_closed_and_recovers_when_entries_expire() {
        let store = MemoryStore::new(3);
        for jti in ["a", "b", "c"] {
            store.record_now(&key(jti), 100, 0).unwrap();
        }
        assert_eq!(
            store.record_now(&key("d"), 100, 50),
            Err(ReplayError::Full { capacity: 3 })
        );
        // A replay is still recognised as one while full.
        assert_eq!(store.record_now(&key("a"), 100, 50), Ok(Recorded::Replay));
        assert_eq!(store.record_now(&key("d"), 300, 101), Ok(Recorded::First));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn concurrent_inserts_of_one_key_have_one_winner() {
        let store = Arc::new(MemoryStore::new(100));
        let barrier = Arc::new(Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.record_now(&key("same"), 100, 0).unwrap()
                })
            })
            .collect();
        let results: Vec<Recorded> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| **r == Recorded::First).count(), 1);
        assert_eq!(store.len(), 1);
    }
}
