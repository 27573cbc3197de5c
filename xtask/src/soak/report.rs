//! The soak's table and its verdict.

use std::time::Duration;

use super::traffic::{Count, Kind, Tally};

pub(super) struct Report {
    pub seconds: f64,
    pub workers: usize,
    pub cooldown: u64,
    pub tally: Tally,
    /// Rotation time after the start; how long until the new key was accepted; probes refused.
    pub rotation: Option<(Duration, Option<Duration>, u64)>,
    pub rotated_to_new_key: bool,
    pub jwks_requests: usize,
    pub discovery_requests: usize,
    pub fetch_failures: usize,
    /// VmRSS at 10 s, VmRSS at the end, VmHWM; KiB.
    pub rss: (Option<u64>, Option<u64>, Option<u64>),
    /// CPU seconds the server used during the run.
    pub server_cpu: Option<f64>,
    pub log_leaks: usize,
    pub clean_exit: bool,
}

/// Largest accepted RSS growth between 10 s and the end.
const MAX_RSS_GROWTH: f64 = 0.10;

impl Report {
    fn requests(&self) -> u64 {
        self.tally.values().map(Count::total).sum()
    }

    fn growth(&self) -> Option<f64> {
        match self.rss {
            (Some(at10), Some(end), _) if at10 > 0 => Some(end as f64 / at10 as f64 - 1.0),
            _ => None,
        }
    }

    pub(super) fn print(&self) {
        let requests = self.requests();
        println!();
        println!(
            "soak: {:.1} s, {} mixed + {} flood workers, unknown-kid cooldown {} s",
            self.seconds,
            self.workers,
            self.workers / 4,
            self.cooldown
        );
        println!(
            "requests              {requests:>9}   {:.0} rps",
            requests as f64 / self.seconds
        );
        if let Some(cpu) = self.server_cpu {
            println!(
                "server CPU            {cpu:.1} s of {:.1} s wall ({:.0} requests per CPU-second)",
                self.seconds,
                requests as f64 / cpu
            );
        }
        println!(
            "{:<22}{:>9} {:>9} {:>9} {:>9}  expected",
            "kind", "as-spec", "accepted", "other", "no-answer"
        );
        for (kind, count) in &self.tally {
            let accepted = if matches!(kind, Kind::Valid | Kind::ValidRotated) {
                0
            } else {
                count.wrong.get(&200).copied().unwrap_or(0)
            };
            let other = count.wrong.values().sum::<u64>() - accepted;
            let (status, _) = kind.expected();
            println!(
                "  {:<20}{:>9} {:>9} {:>9} {:>9}  {status}",
                kind.name(),
                count.expected,
                accepted,
                other,
                count.errors
            );
            if let Some(problem) = &count.first_problem {
                println!("      first problem: {problem}");
            }
        }
        match self.rotation {
            Some((at, Some(after), refused)) => println!(
                "rotation              at {:.1} s (JWKS answering 500); new kid accepted {:.2} s later, {refused} probes refused before",
                at.as_secs_f64(),
                after.as_secs_f64()
            ),
            Some((at, None, refused)) => println!(
                "rotation              at {:.1} s; new kid NEVER accepted ({refused} probes refused)",
                at.as_secs_f64()
            ),
            None => println!("rotation              did not happen (run too short?)"),
        }
        println!(
            "JWKS                  {} requests to the JWKS ({} discovery), {} failed fetches logged by the server",
            self.jwks_requests, self.discovery_requests, self.fetch_failures
        );
        let mib =
            |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!(
            "RSS                   at 10 s {}, end {}, growth {}, peak {}",
            mib(self.rss.0),
            mib(self.rss.1),
            self.growth()
                .map_or("?".to_owned(), |g| format!("{:+.1} %", g * 100.0)),
            mib(self.rss.2)
        );
        println!(
            "server                {} log lines with a token-like string; SIGTERM exit {}",
            self.log_leaks,
            if self.clean_exit {
                "clean"
            } else {
                "NOT clean"
            }
        );
        let failures = self.failures();
        println!(
            "result                {}",
            if failures.is_empty() { "PASS" } else { "FAIL" }
        );
    }

    /// Every criterion that failed, in words.
    pub(super) fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for kind in [Kind::Valid, Kind::ValidRotated] {
            let valid = self.tally.get(&kind).cloned().unwrap_or_default();
            if valid.expected == 0 || valid.total() != valid.expected {
                out.push(format!(
                    "{}: {} of {} calls failed",
                    kind.name(),
                    valid.total() - valid.expected,
                    valid.total()
                ));
            }
        }
        for kind in Kind::MIXED_ATTACKS.iter().chain([&Kind::UnknownKid]) {
            let count = self.tally.get(kind).cloned().unwrap_or_default();
            if count.expected == 0 || count.total() != count.expected {
                out.push(format!(
                    "{}: {} of {} not answered as the contract says",
                    kind.name(),
                    count.total() - count.expected,
                    count.total()
                ));
            }
        }
        match self.rotation {
            Some((_, Some(_), _)) if self.rotated_to_new_key => {}
            _ => out.push("the rotated key was not picked up during the run".into()),
        }
        match self.growth() {
            Some(g) if g < MAX_RSS_GROWTH => {}
            Some(g) => out.push(format!("RSS grew {:.1} % (limit 10 %)", g * 100.0)),
            None => out.push("RSS could not be read".into()),
        }
        if self.log_leaks > 0 {
            out.push(format!(
                "{} log lines look like they carry a token",
                self.log_leaks
            ));
        }
        if !self.clean_exit {
            out.push("the server did not exit cleanly on SIGTERM".into());
        }
        out
    }
}
