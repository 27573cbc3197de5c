//! Backoff and deadlines shared by the polling loops (`discover`, `wait`, `call`'s retries).
//!
//! Kept deliberately small: a doubling delay with a cap, and a deadline that clamps every sleep so
//! a loop never overshoots `--timeout` by a whole interval.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, cap: Duration) -> Self {
        Self {
            next: first.min(cap),
            cap,
        }
    }

    /// The delay to use now; the one after it doubles, up to the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    start: Instant,
    end: Instant,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        let start = Instant::now();
        Self {
            start,
            end: start + timeout,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub(crate) fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Sleeps for `delay`, or until the deadline if that comes first. Returns false when the
    /// deadline has passed (the caller should stop).
    pub(crate) async fn sleep(&self, delay: Duration) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return false;
        }
        tokio::time::sleep(delay.min(remaining)).await;
        !self.expired()
    }
}

/// Seconds since the epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `12s`, `2m 05s`: short durations for progress lines.
pub(crate) fn short(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
        let delays: Vec<_> = (0..4).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 2, 2]);
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(15));
        let delays: Vec<_> = (0..5).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 15, 15]);
    }

    #[test]
    fn formats_durations_for_logs() {
        assert_eq!(short(Duration::from_millis(1500)), "1.5s");
        assert_eq!(short(Duration::from_secs(125)), "2m 05s");
    }
}
