//! Which connections the server keeps when it is full: the open ones, by peer, with what each is
//! doing, so a new connection past a cap evicts the least useful one instead of being refused.
//!
//! Why evict rather than refuse: refusing at the cap let 520 sockets that each held half a
//! request head keep every valid caller out (reopening ~52 a second kept it full). The connection
//! evicted is the one that moved no byte for the longest among those not running a handler: a
//! half-sent head, an idle keep-alive, a client that stopped reading its answers. A connection
//! whose request is in a handler is never evicted; when every one is, the new connection is
//! refused (and logged) as before. The same rule applies per peer (an IPv4 address, an IPv6 /64)
//! with the per-peer cap, so one client holds at most that many when it reaches the server
//! directly.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use tokio::sync::Notify;

use super::io::Activity;

/// One open connection, as the admission sees it.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) activity: Arc<Activity>,
    /// Requests of this connection inside a handler right now.
    pub(super) busy: AtomicU32,
    /// Told when the connection is evicted: its task drops it at once.
    pub(super) evict: Notify,
}

/// The open connections; the only lock is held for a scan of at most `max_connections` entries
/// per accepted connection past a cap.
#[derive(Debug)]
pub(super) struct Admission {
    open: Mutex<HashMap<u64, (Peer, Arc<Slot>)>>,
    next_id: std::sync::atomic::AtomicU64,
    max_connections: usize,
    max_per_peer: usize,
}

/// The peer a per-peer limit counts: an IPv4 address, or an IPv6 /64 (one host usually holds a
/// whole /64, so counting single IPv6 addresses would be no limit at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Peer(u128);

impl Peer {
    pub(super) fn of(ip: IpAddr) -> Peer {
        match ip {
            IpAddr::V4(v4) => Peer(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer(u128::from(u32::from(v4))),
                None => Peer((u128::from(v6) >> 64) << 64 | 1 << 63),
            },
        }
    }
}

/// What happened to a new connection.
#[derive(Debug)]
pub(super) enum Admitted {
    /// Admitted; `evicted` says whether an older connection made room (and why it was chosen).
    Yes {
        id: u64,
        slot: Arc<Slot>,
        evicted: Option<Eviction>,
    },
    /// Refused: at the cap (`per_peer` says which) and every candidate is in a handler.
    No { per_peer: bool },
}

/// Which cap an eviction made room under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Eviction {
    Global,
    PerPeer,
}

impl Admission {
    /// `max_per_peer` 0 means no per-peer limit.
    pub(super) fn new(max_connections: usize, max_per_peer: usize) -> Admission {
        Admission {
            open: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
            max_connections,
            max_per_peer: if max_per_peer == 0 {
                usize::MAX
            } else {
                max_per_peer
            },
        }
    }

    /// Admits a connection from `peer`, evicting one first if a cap is reached.
    pub(super) fn admit(&self, peer: Peer) -> Admitted {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = None;
        let from_peer = open.values().filter(|(p, _)| *p == peer).count();
        if from_peer >= self.max_per_peer {
            if !evict_one(&mut open, |p| *p == peer) {
                return Admitted::No { per_peer: true };
            }
            evicted = Some(Eviction::PerPeer);
        }
        if open.len() >= self.max_connections {
            if !evict_one(&mut open, |_| true) {
                return Admitted::No { per_peer: false };
            }
            evicted = evicted.or(Some(Eviction::Global));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            activity: Arc::new(Activity::new()),
            busy: AtomicU32::new(0),
            evict: Notify::new(),
        });
        open.insert(id, (peer, Arc::clone(&slot)));
        Admitted::Yes { id, slot, evicted }
    }

    /// Forgets a connection that ended (no-op if it was evicted).
    pub(super) fn remove(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// Evicts the connection among those `eligible` that is not in a handler and moved no byte for
/// the longest; false when there is none.
fn evict_one(open: &mut HashMap<u64, (Peer, Arc<Slot>)>, eligible: impl Fn(&Peer) -> bool) -> bool {
    let victim = open
        .iter()
        .filter(|(_, (peer, slot))| eligible(peer) && slot.busy.load(Ordering::Relaxed) == 0)
        .min_by_key(|(_, (_, slot))| slot.activity.last())
        .map(|(id, _)| *id);
    let Some((_, slot)) = victim.and_then(|id| open.remove(&id)) else {
        return false;
    };
    slot.activity.abort();
    slot.evict.notify_one();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str) -> Peer {
        Peer::of(ip.parse().unwrap())
    }

    fn admitted(admission: &Admission, ip: &str) -> (u64, Arc<Slot>, Option<Eviction>) {
        match admission.admit(peer(ip)) {
            Admitted::Yes { id, slot, evicted } => (id, slot, evicted),
            Admitted::No { per_peer } => panic!("refused (per peer: {per_peer})"),
        }
    }

    #[test]
    fn peers_are_addresses_and_ipv6_slash_64s() {
        assert_eq!(peer("10.0.0.1"), peer("::ffff:10.0.0.1"));
        assert_ne!(peer("10.0.0.1"), peer("10.0.0.2"));
        assert_eq!(peer("2001:db8::1"), peer("2001:db8::ffff:1"));
        assert_ne!(peer("2001:db8::1"), peer("2001:db8:0:1::1"));
        assert_ne!(peer("0.0.0.1"), peer("::1"));
    }

    #[tokio::test]
    async fn the_longest_silent_idle_connection_makes_room() {
        let admission = Admission::new(3, 0);
        let (_, first, _) = admitted(&admission, "10.0.0.1");
        let (_, busy, _) = admitted(&admission, "10.0.0.2");
        let (_, third, _) = admitted(&admission, "10.0.0.3");
        busy.busy.store(1, Ordering::Relaxed);
        // The first is the oldest and silent: it goes, and is told so.
        let (_, _, evicted) = admitted(&admission, "10.0.0.4");
        assert_eq!(evicted, Some(Eviction::Global));
        assert!(first.activity.aborted());
        assert!(!third.activity.aborted());
        tokio::time::timeout(std::time::Duration::from_secs(1), first.evict.notified())
            .await
            .expect("the evicted connection is notified");
        // A connection in a handler is never evicted: with every one busy, refuse.
        let full = Admission::new(1, 0);
        let (_, only, _) = admitted(&full, "10.0.0.1");
        only.busy.store(1, Ordering::Relaxed);
        assert!(matches!(
            full.admit(peer("10.0.0.2")),
            Admitted::No { per_peer: false }
        ));
    }

    #[test]
    fn one_peer_is_held_to_its_own_cap() {
        let admission = Admission::new(100, 2);
        let (a, _, _) = admitted(&admission, "10.0.0.1");
        admitted(&admission, "10.0.0.1");
        admitted(&admission, "10.0.0.2");
        let (_, _, evicted) = admitted(&admission, "10.0.0.1");
        assert_eq!(evicted, Some(Eviction::PerPeer));
        // The evicted one was the peer's own oldest; removing it again is harmless.
        admission.remove(a);
        assert_eq!(admission.open.lock().unwrap().len(), 3);
    }
}
