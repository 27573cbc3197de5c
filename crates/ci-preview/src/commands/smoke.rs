//! `ci-preview smoke`: the whole check a preview smoke workflow runs, in one step.
//!
//! discover → wait (for the discovered head commit) → call `flags/encrypt-override` with
//! `{"flags":{"ciInPreviewSmoke":true}}` → check the cookie is a well-formed JWE → mask it →
//! `preview-url` and `cookie-length` to `$GITHUB_OUTPUT` → a Markdown table to
//! `$GITHUB_STEP_SUMMARY` (also when a step fails, saying which one and why). Every string from the
//! network enters the summary through `untrusted::markdown`, so it renders as plain text.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::actions::{self, RunnerFiles};
use crate::discovery::{DiscoverArgs, abbrev, find};
use crate::endpoint::{CallArgs, call_endpoint};
use crate::error::{CliError, Result};
use crate::github::GitHubArgs;
use crate::minter::{IdTokenArgs, Minter};
use crate::poll::{Deadline, short};
use crate::preview::Preview;
use crate::protection::{Guard, ProtectionArgs};
use crate::readiness::until_ready;
use crate::untrusted::markdown;
use crate::{env, http, jwe};

/// The endpoint the smoke exercises.
pub(crate) const ENDPOINT: &str = "flags/encrypt-override";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub discover: DiscoverArgs,
    #[command(flatten)]
    pub github: GitHubArgs,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
    #[command(flatten)]
    pub call: CallArgs,
    /// Give up when discovery and the wait together take longer.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// The step outputs (`preview-url`, `cookie-length`) go to `--github-output-file`
    /// (`$GITHUB_OUTPUT`), the runner's file like every subcommand's.
    #[command(flatten)]
    pub files: RunnerFiles,
    /// The step summary file, Markdown (set by the runner).
    #[arg(
        long = "github-step-summary-file",
        alias = "summary-file",
        env = env::GITHUB_STEP_SUMMARY,
        hide = true,
        value_name = "FILE"
    )]
    pub summary_file: Option<PathBuf>,
}

struct Step {
    name: &'static str,
    /// Markdown: network strings in it went through `untrusted::markdown`.
    result: String,
    took: Option<Duration>,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let client = http::client()?;
    // Configuration errors first: no point discovering a preview the job cannot call.
    let minter = Minter::new(&args.id_token, client.clone())?;
    let guard = Arc::new(args.protection.guard(Some(&minter))?);
    let mut steps = Vec::new();
    let outcome = smoke(&args, &client, &minter, guard, &mut steps).await;
    if let Some(path) = args
        .summary_file
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        actions::append_summary(path, &summary(&steps, outcome.as_ref().err()))?;
    }
    outcome
}

async fn smoke(
    args: &Args,
    client: &reqwest::Client,
    minter: &Minter,
    guard: Arc<Guard>,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let deadline = Deadline::after(args.timeout);
    let output = args
        .files
        .runner_output
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty());
    if output.is_none() && actions::in_actions() {
        actions::warning(
            "GITHUB_OUTPUT is not set: the preview-url and cookie-length outputs are not written",
        );
    }

    let started = Instant::now();
    let found = find(&args.discover, &args.github, deadline).await?;
    steps.push(Step {
        name: "discover",
        result: format!("{} from {}", markdown(&found.url), markdown(&found.source)),
        took: Some(started.elapsed()),
    });
    if let Some(path) = output {
        actions::write_output(path, "preview-url", &found.url)?;
    }

    let started = Instant::now();
    let preview = Preview::new(&found.url, guard)?;
    let health = until_ready(client, &preview, found.sha.as_deref(), deadline).await?;
    let serving = health
        .commit
        .as_deref()
        .map(|c| format!("`{}`", abbrev(c)))
        .unwrap_or_else(|| "an unreported commit".to_owned());
    let environment = markdown(health.environment.as_deref().unwrap_or("unknown"));
    steps.push(Step {
        name: "wait",
        result: format!("serves {serving} (environment {environment})"),
        took: Some(started.elapsed()),
    });

    let started = Instant::now();
    let audience = args
        .call
        .audience(
            client,
            &preview,
            ENDPOINT,
            Some(&health),
            &args.discover.hosts,
        )
        .await?;
    let body = json!({"flags": {"ciInPreviewSmoke": true}});
    let called = call_endpoint(
        client, &preview, minter, ENDPOINT, &audience, &body, &args.call,
    )
    .await?;
    let plural = if called.attempts == 1 { "" } else { "s" };
    steps.push(Step {
        name: "call",
        result: format!(
            "`{ENDPOINT}` answered 200 ({} attempt{plural})",
            called.attempts
        ),
        took: Some(started.elapsed()),
    });

    let cookie = called.answer["cookie"].as_str().ok_or_else(|| {
        CliError::check(format!("{ENDPOINT} answered 200 without a `cookie` string"))
    })?;
    // Masked before anything else happens to it; nothing below prints it.
    actions::mask(cookie);
    jwe::check(cookie)
        .map_err(|why| CliError::check(format!("the cookie is not a well-formed JWE: {why}")))?;
    steps.push(Step {
        name: "cookie",
        result: format!("compact JWE, dir + A256GCM, {} characters", cookie.len()),
        took: None,
    });
    if let Some(path) = output {
        actions::write_output(path, "cookie-length", &cookie.len().to_string())?;
    }
    actions::progress(&format!(
        "smoke passed: {} serves {ENDPOINT}; cookie of {} characters",
        found.url,
        cookie.len()
    ));
    Ok(())
}

fn summary(steps: &[Step], failure: Option<&CliError>) -> String {
    let mut out = String::new();
    out.push_str(match failure {
        None => "### ✅ ci-in-preview smoke passed\n\n",
        Some(_) => "### ❌ ci-in-preview smoke failed\n\n",
    });
    out.push_str("| step | result | time |\n| --- | --- | --- |\n");
    for step in steps {
        let took = step.took.map(short).unwrap_or_default();
        out.push_str(&format!("| {} | {} | {took} |\n", step.name, step.result));
    }
    if let Some(err) = failure {
        let failed = ["discover", "wait", "call", "cookie"]
            .get(steps.len())
            .copied()
            .unwrap_or("outputs");
        out.push_str(&format!(
            "| {failed} | **failed:** {} | |\n",
            cell(&err.to_string())
        ));
    }
    out
}

/// Text (an error that may quote the network) as one inert table cell, its lines kept apart.
fn cell(text: &str) -> String {
    text.lines().map(markdown).collect::<Vec<_>>().join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_a_table_and_names_the_failed_step() {
        let steps = [Step {
            name: "discover",
            result: format!("https://x from {}", markdown("a | b")),
            took: Some(Duration::from_secs(2)),
        }];
        let err = CliError::check("not ready\nlast saw <b>404</b> | [x](y)");
        let text = summary(&steps, Some(&err));
        assert!(text.starts_with("### ❌ ci-in-preview smoke failed"));
        assert!(text.contains("| discover | https://x from a \\| b | 2.0s |"));
        assert!(
            text.contains(
                "| wait | **failed:** not ready<br>last saw &lt;b&gt;404&lt;/b&gt; \\| \\[x\\]\\(y\\) | |"
            ),
            "{text}"
        );
    }
}
