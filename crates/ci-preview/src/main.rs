//! `ci-preview`: the CI client of ci-in-preview.
//!
//! A GitHub workflow runs it against a pull request's preview deployment: mint an OIDC token, find
//! the preview, wait until it serves the pull request's head, call a CI endpoint, or do all of
//! that as the smoke. It replaces the prototype's bash steps (comment scraping, fixed 15-second
//! sleeps, curl) with one binary whose exit code a workflow can trust: 0 ok, 1 the check failed,
//! 2 the job is misconfigured.

mod actions;
mod answer_cookies;
mod commands;
mod discovery;
mod endpoint;
mod env;
mod error;
mod event;
mod github;
mod health;
mod hosts;
mod http;
mod jwe;
mod local_cookies;
mod minter;
mod overrides;
mod policy_change;
mod poll;
mod preview;
mod protection;
mod readiness;
mod sealed_state;
mod secret;
mod storage_state;
mod untrusted;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    call, discover, flags, open_state, smoke, storage_state as state_cmd, token, wait,
};
use crate::error::CliError;

/// `--help`'s epilogue: exit codes, every environment variable read (from `crate::env`), and
/// where secrets may go.
fn after_help() -> String {
    format!(
        "\
Exit status: 0 success; 1 the check failed (refused, timed out, malformed answer);
2 usage or configuration error (the message names the fix).

Set by the Actions runner: {}.
Set in the workflow: {}.

Secrets and tokens go only to the preview: a URL given with --url/PREVIEW_URL, or a discovered one
whose deployment was made by --deployment-creator (default vercel[bot]) and whose host passes
--allow-host (always *.vercel.app). Text from the network is printed as one inert line.
Inside Actions, workflow commands (::add-mask::, ::error::) go to stderr, so stdout can be captured.",
        env::SET_BY_RUNNER.join(", "),
        env::SET_BY_WORKFLOW.join(", "),
    )
}

#[derive(Debug, Parser)]
#[command(name = "ci-preview", version, about, after_help = after_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: boxing the larger variants would save nothing worth the noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Mint a GitHub Actions OIDC token for an audience and print it.
    Token(token::Args),
    /// Print the preview URL of this pull request.
    Discover(discover::Args),
    /// Wait until the preview's CI health route serves the expected commit.
    Wait(wait::Args),
    /// POST JSON to a CI endpoint with a fresh OIDC token and print the answer.
    Call(call::Args),
    /// Discover, wait, call flags/encrypt-override and check the cookie; write outputs and a summary.
    Smoke(smoke::Args),
    /// Get a flag-override cookie for e2e tests: Playwright storageState, $GITHUB_ENV or stdout.
    Flags(flags::Args),
    /// Write a Playwright storageState with the flag, session and protection cookies.
    StorageState(state_cmd::Args),
    /// Open a state sealed by `storage-state --seal` into a Playwright storageState file.
    OpenState(open_state::Args),
    /// Check a pull request's policy change: `policy check --base REF`.
    Policy(commands::policy::Args),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Token(_) => "token",
            Self::Discover(_) => "discover",
            Self::Wait(_) => "wait",
            Self::Call(_) => "call",
            Self::Smoke(_) => "smoke",
            Self::Flags(_) => "flags",
            Self::StorageState(_) => "storage-state",
            Self::OpenState(_) => "open-state",
            Self::Policy(_) => "policy",
        }
    }
}

fn main() -> ExitCode {
    // Clap exits with 2 on usage errors and 0 for --help/--version, matching our own codes.
    let cli = Cli::parse();
    let name = cli.command.name();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            actions::error(
                "ci-preview",
                &format!("cannot start the async runtime: {err}"),
            );
            return ExitCode::from(2);
        }
    };
    let outcome: Result<(), CliError> = runtime.block_on(async move {
        match cli.command {
            Command::Token(args) => token::run(args).await,
            Command::Discover(args) => discover::run(args).await,
            Command::Wait(args) => wait::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::Smoke(args) => smoke::run(args).await,
            Command::Flags(args) => flags::run(args).await,
            Command::StorageState(args) => state_cmd::run(args).await,
            Command::OpenState(args) => open_state::run(args),
            Command::Policy(args) => commands::policy::run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            actions::error(&format!("ci-preview {name}"), &err.to_string());
            err.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Every variable a flag reads is in the help's lists (`crate::env`).
    #[test]
    fn help_lists_every_variable() {
        fn walk(command: &clap::Command, seen: &mut Vec<String>) {
            for arg in command.get_arguments() {
                if let Some(name) = arg.get_env() {
                    seen.push(name.to_string_lossy().into_owned());
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, seen);
            }
        }
        let mut seen = Vec::new();
        walk(&super::Cli::command(), &mut seen);
        assert!(seen.len() > 10, "{seen:?}");
        let listed: Vec<&str> = [crate::env::SET_BY_RUNNER, crate::env::SET_BY_WORKFLOW].concat();
        for name in &seen {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is missing from crate::env's lists"
            );
        }
        let help = super::after_help();
        for name in listed {
            assert!(help.contains(name), "{name}");
        }
    }
}
