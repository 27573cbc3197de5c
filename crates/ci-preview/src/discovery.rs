//! Discovery: finds the preview URL for this run (`discover` prints it, `smoke` uses it).
//!
//! Sources, first answer wins: `--url`/`PREVIEW_URL`; a `deployment_status` event's URL; the
//! Deployments API for the pull request's *head* commit (newest deployment whose latest status is
//! `success`: `environment_url`, else `target_url`); the pull request's comments by the deploy bot
//! matching `--comment-pattern`. The API sources are polled with backoff (up to 15 s apart) while
//! nothing is found, honouring GitHub's rate-limit headers, until `--timeout`.
//!
//! Whoever can deploy or comment can name a URL, and the bypass secret and tokens follow it. So a
//! deployment (API or event) only counts when its creator is the deploy integration the user runs
//! (`--deployment-creator`, default `vercel[bot]`), and so does the status that carries the URL:
//! any app or workflow with `deployments: write` can post a newer `success` with its own
//! `environment_url` on the bot's deployment, so a status counts only when its creator matches too
//! (and its `performed_via_github_app`, where GitHub names one). Every discovered URL must also
//! pass the host allowlist (`crate::hosts`). Only `--url`/`PREVIEW_URL` is trusted as given.

use std::time::Duration;

use regex::Regex;

use crate::error::{CliError, Result};
use crate::github::{ApiError, GitHub, GitHubArgs};
use crate::hosts::{AllowHosts, HostArgs};
use crate::poll::{Backoff, Deadline, short};
use crate::preview::parse_preview_url;
use crate::{actions, env, untrusted};

mod sources;

pub(crate) use sources::{DEFAULT_COMMENT_AUTHOR, DEFAULT_COMMENT_PATTERN};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DiscoverArgs {
    /// The preview URL, when already known: skips discovery.
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// Pull request number [default: from the pull_request event].
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// Commit the preview must be built from [default: the pull request's head, never GITHUB_SHA].
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
    /// Deployment environment to pick when several projects deploy (e.g. "Preview – web").
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// Login of the integration whose deployments count (`NAME` also matches `NAME[bot]`).
    /// Repeatable; the variable is comma-separated. Deployments by anyone else are ignored, and so
    /// are statuses (which carry the URL) posted by anyone else, or through another GitHub App.
    #[arg(
        long = "deployment-creator",
        env = env::CI_PREVIEW_DEPLOYMENT_CREATOR,
        value_delimiter = ',',
        default_value = DEFAULT_COMMENT_AUTHOR,
        value_name = "LOGIN"
    )]
    pub deployment_creators: Vec<String>,
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Login of the bot whose pull-request comment carries the preview URL.
    #[arg(long, default_value = DEFAULT_COMMENT_AUTHOR, value_name = "LOGIN")]
    pub comment_author: String,
    /// Regex for the URL in that comment (the `url` group, else group 1, else the whole match).
    #[arg(long, default_value = DEFAULT_COMMENT_PATTERN, value_name = "REGEX")]
    pub comment_pattern: String,
}

/// A preview URL and what it is known to be built from.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub url: String,
    pub source: String,
    /// The commit the preview should serve, when known (`--sha`, the event, or the pulls API).
    pub sha: Option<String>,
}

pub(crate) enum Round {
    Found(Found),
    NotYet(String),
}

pub(crate) async fn find(
    args: &DiscoverArgs,
    github_args: &GitHubArgs,
    deadline: Deadline,
) -> Result<Found> {
    let event = github_args.event.load()?;
    let sha_flag = args
        .sha
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut sha = sha_flag.or_else(|| event.head_sha.clone());

    if let Some(url) = args.url.as_deref().filter(|u| !u.trim().is_empty()) {
        return found(url, "--url/PREVIEW_URL".to_owned(), sha);
    }
    let hosts = AllowHosts::new(&args.hosts)?;
    let allowed = |found: Found| -> Result<Found> {
        hosts.check(&parse_preview_url(&found.url)?, &found.source)?;
        Ok(found)
    };
    if let Some(status) = &event.deployment_status {
        let wanted = args.environment.as_deref();
        let creator = status.creator.as_deref();
        let by_creator = creator.is_some_and(|login| creator_matches(args, login));
        let status_by_creator = status_trusted(
            args,
            status.status_creator.as_deref(),
            status.status_app.as_deref(),
        );
        if !by_creator {
            actions::progress(&format!(
                "the deployment_status event is for a deployment by {}, not {}: asking the Deployments API",
                untrusted::text(creator.unwrap_or("an unknown creator")),
                args.deployment_creators.join(", ")
            ));
        } else if !status_by_creator {
            actions::progress(&format!(
                "the deployment_status event's status was posted by {}{}, not {}: asking the Deployments API",
                untrusted::text(
                    status
                        .status_creator
                        .as_deref()
                        .unwrap_or("an unknown creator")
                ),
                status
                    .status_app
                    .as_deref()
                    .map(|app| format!(" via the app {}", untrusted::text(app)))
                    .unwrap_or_default(),
                args.deployment_creators.join(", ")
            ));
        } else if wanted.is_none_or(|want| status.environment.as_deref() == Some(want)) {
            let environment = untrusted::text(status.environment.as_deref().unwrap_or("unnamed"));
            return match (status.state.as_str(), status.url()) {
                ("success", Some(url)) => allowed(found(
                    url,
                    format!("the deployment_status event (environment {environment:?})"),
                    sha,
                )?),
                ("success", None) => Err(CliError::check(
                    "the deployment_status event has neither environment_url nor target_url",
                )),
                ("failure" | "error", _) => Err(CliError::check(format!(
                    "the deployment failed: the deployment_status event is `{}` (environment {environment:?})",
                    status.state
                ))),
                (state, _) => Err(CliError::config(format!(
                    "this deployment_status event is `{}`, not `success`: add \
                     `if: github.event.deployment_status.state == 'success'` to the job",
                    untrusted::text(state)
                ))),
            };
        } else {
            actions::progress(&format!(
                "the deployment_status event is for environment {}, not {wanted:?}: asking the Deployments API",
                untrusted::text(status.environment.as_deref().unwrap_or(""))
            ));
        }
    }

    let pr = args.pr.or(event.pr_number);
    if pr.is_none() && sha.is_none() {
        return Err(CliError::config(
            "no pull request or commit to look up: pass --pr N (or run on a pull_request event), \
             --sha SHA, or the URL itself with --url/PREVIEW_URL",
        ));
    }
    let pattern = Regex::new(&args.comment_pattern).map_err(|err| {
        CliError::config(format!("--comment-pattern is not a valid regex: {err}"))
    })?;
    let github = GitHub::new(github_args)?;
    if !github.authenticated() {
        actions::warning(
            "GITHUB_TOKEN is not set: the GitHub API allows 60 unauthenticated requests an hour and \
             hides private repositories; add `env: GITHUB_TOKEN: ${{ github.token }}` to the step",
        );
    }

    let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(15));
    let mut last_printed: Option<(String, Duration)> = None;
    loop {
        let (delay, note) = match round(&github, args, &pattern, pr, &mut sha).await {
            Ok(Round::Found(found)) => return allowed(found),
            Ok(Round::NotYet(note)) => (backoff.next_delay(), note),
            Err(ApiError::Fatal(err)) => return Err(err),
            Err(ApiError::Transient(why)) => (backoff.next_delay(), why),
            Err(ApiError::RateLimited { wait, why }) => (wait.max(backoff.next_delay()), why),
        };
        let quota_wait = github.pause().unwrap_or_default();
        let delay = delay.max(quota_wait);
        let elapsed = deadline.elapsed();
        if deadline.expired() || (delay > deadline.remaining() && delay > Duration::from_secs(15)) {
            // Out of time, or the rate limit alone would outlast --timeout: say so now.
            return Err(timed_out(args, pr, sha.as_deref(), &note, delay, &deadline));
        }
        let repeat = last_printed.as_ref().is_some_and(|(text, at)| {
            *text == note && elapsed.saturating_sub(*at) < Duration::from_secs(60)
        });
        if !repeat {
            actions::progress(&format!(
                "[{}] {note}; checking again in {}",
                short(elapsed),
                short(delay)
            ));
            last_printed = Some((note, elapsed));
        }
        deadline.sleep(delay).await;
    }
}

async fn round(
    github: &GitHub,
    args: &DiscoverArgs,
    pattern: &Regex,
    pr: Option<u64>,
    sha: &mut Option<String>,
) -> Result<Round, ApiError> {
    let mut notes = Vec::new();
    if sha.is_none()
        && let Some(number) = pr
    {
        let pull = github.pull_request(number).await?;
        let head = untrusted::commit(&pull.head.sha).ok_or_else(|| {
            ApiError::Fatal(CliError::check(format!(
                "the pulls API gave #{number} a head that is not a commit id: {}",
                untrusted::text(&pull.head.sha)
            )))
        })?;
        actions::progress(&format!("pull request #{number} head: {head} (pulls API)"));
        *sha = Some(head);
    }
    if let Some(commit) = sha.as_deref() {
        match sources::from_deployments(github, args, commit).await? {
            Some(Round::Found(found)) => return Ok(Round::Found(found)),
            // Deployments exist and are still running: waiting for them beats a comment's alias.
            Some(Round::NotYet(note)) => return Ok(Round::NotYet(note)),
            None => notes.push(format!(
                "no deployment of {}{} yet",
                abbrev(commit),
                args.environment
                    .as_deref()
                    .map(|e| format!(" to {e:?}"))
                    .unwrap_or_default()
            )),
        }
    }
    if let Some(number) = pr {
        if let Some(found) =
            sources::from_comments(github, args, pattern, number, sha.as_deref()).await?
        {
            return Ok(Round::Found(found));
        }
        notes.push(format!(
            "no comment by {} on #{number} matches the pattern",
            args.comment_author.trim()
        ));
    }
    Ok(Round::NotYet(notes.join("; ")))
}

/// Whether `login` is one of the deployment creators the user trusts (`NAME` or `NAME[bot]`).
pub(crate) fn creator_matches(args: &DiscoverArgs, login: &str) -> bool {
    args.deployment_creators
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .any(|c| login.eq_ignore_ascii_case(c) || login.eq_ignore_ascii_case(&format!("{c}[bot]")))
}

/// Whether a status (the part that carries the URL) was posted by a trusted creator: its
/// `creator.login` matches, and so does `performed_via_github_app.slug` where GitHub names one
/// (`vercel[bot]` acts as the app `vercel`). A status with no creator is not trusted.
pub(crate) fn status_trusted(
    args: &DiscoverArgs,
    creator: Option<&str>,
    app: Option<&str>,
) -> bool {
    let Some(creator) = creator.filter(|login| creator_matches(args, login)) else {
        return false;
    };
    app.is_none_or(|slug| {
        let bot = creator.to_ascii_lowercase();
        let named = bot.strip_suffix("[bot]").unwrap_or(&bot);
        slug.eq_ignore_ascii_case(named)
    })
}

pub(crate) fn found(url: &str, source: String, sha: Option<String>) -> Result<Found> {
    let origin = parse_preview_url(url)?
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    actions::progress(&format!(
        "preview URL from {}: {}",
        untrusted::text(&source),
        untrusted::text(&origin)
    ));
    Ok(Found {
        url: origin,
        source,
        sha,
    })
}

pub(crate) fn abbrev(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn timed_out(
    args: &DiscoverArgs,
    pr: Option<u64>,
    sha: Option<&str>,
    note: &str,
    next: Duration,
    deadline: &Deadline,
) -> CliError {
    let mut checked = Vec::new();
    if let Some(sha) = sha {
        checked.push(format!("deployments of {} (Deployments API)", abbrev(sha)));
    }
    if let Some(pr) = pr {
        checked.push(format!(
            "comments by {} on #{pr} matching `{}`",
            args.comment_author, args.comment_pattern
        ));
    }
    let why = if next > Duration::from_secs(60) {
        format!(" (the next check would be in {}: {note})", short(next))
    } else {
        String::new()
    };
    CliError::check(format!(
        "no preview URL found after {}{why}; last seen: {note}",
        short(deadline.elapsed())
    ))
    .with_hint(format!(
        "checked: {}. With several projects, --environment or --comment-pattern picks one; \
             a preview deployed elsewhere can be passed with --url/PREVIEW_URL.",
        checked.join(" and ")
    ))
}
