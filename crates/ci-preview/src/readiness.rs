//! Waiting for the preview: polls its health route until it serves the expected commit (`wait`
//! and `smoke` both wait this way).
//!
//! A branch alias keeps answering with the previous deployment until the new one is live, so
//! "200" alone is not "ready": when a commit is known (`--sha`, or the event's pull request head)
//! health's `commit` must equal it. Polls back off from 1 s to 2 s; progress is printed when what
//! the client sees changes (and every 30 s otherwise). On timeout the `::error::` says what it
//! last saw and what that most likely means.

use std::time::Duration;

use crate::actions;
use crate::discovery::abbrev;
use crate::error::{CliError, Result};
use crate::health::{Health, Observation, commit_matches, probe};
use crate::poll::{Backoff, Deadline, short};
use crate::preview::Preview;

/// Polls until health answers 200 and, when `sha` is known, serves it.
pub(crate) async fn until_ready(
    client: &reqwest::Client,
    preview: &Preview,
    sha: Option<&str>,
    deadline: Deadline,
) -> Result<Health> {
    let target = preview.health_url();
    match sha {
        Some(sha) => actions::progress(&format!("waiting for {target} to serve {}", abbrev(sha))),
        None => actions::progress(&format!(
            "waiting for {target} (no commit to compare: pass --sha to reject a stale deployment)"
        )),
    }
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
    let mut last: Option<(String, Duration)> = None;
    loop {
        let observation = probe(client, preview).await;
        let elapsed = deadline.elapsed();
        let verdict = judge(&observation, sha);
        let note = match verdict {
            Verdict::Ready(health) => {
                actions::progress(&format!(
                    "[{}] ready: {} serves {} (environment {})",
                    short(elapsed),
                    preview.origin(),
                    health.commit.as_deref().unwrap_or("an unreported commit"),
                    health.environment.as_deref().unwrap_or("unknown")
                ));
                return Ok(health);
            }
            Verdict::NotYet(note) => note,
        };
        let changed = last.as_ref().is_none_or(|(text, _)| *text != note);
        let stale = last
            .as_ref()
            .is_some_and(|(_, at)| elapsed.saturating_sub(*at) >= Duration::from_secs(30));
        if changed || stale {
            let prefix = if changed { "" } else { "still waiting: " };
            actions::progress(&format!("[{}] {prefix}{note}", short(elapsed)));
            last = Some((note.clone(), elapsed));
        }
        if deadline.expired() {
            return Err(CliError::check(format!(
                "{} was not ready after {}: last saw {note}",
                preview.origin(),
                short(deadline.elapsed())
            )));
        }
        // Sleeps at most to the deadline; the loop then looks once more before giving up.
        deadline.sleep(backoff.next_delay()).await;
    }
}

enum Verdict {
    Ready(Health),
    NotYet(String),
}

fn judge(observation: &Observation, sha: Option<&str>) -> Verdict {
    let Observation::Healthy(health) = observation else {
        return Verdict::NotYet(observation.describe());
    };
    match (sha, health.commit.as_deref()) {
        (None, _) => Verdict::Ready(health.clone()),
        (Some(want), Some(serving)) if commit_matches(serving, want) => {
            Verdict::Ready(health.clone())
        }
        (Some(want), Some(serving)) => Verdict::NotYet(format!(
            "serving {}, not {} yet: a stale alias (the new deployment is not live on this URL yet)",
            abbrev(serving),
            abbrev(want)
        )),
        (Some(want), None) => Verdict::NotYet(format!(
            "healthy but reports no commit (VERCEL_GIT_COMMIT_SHA unset), so it cannot be confirmed to serve {}",
            abbrev(want)
        )),
    }
}
