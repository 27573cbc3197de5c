//! Every `cargo xtask` command and flag, declared once with clap's derive: the one declaration
//! parses the command line, decides which command runs (`main.rs` matches on [`Command`]) and
//! prints `--help`, so help cannot drift from what the commands accept. Also the error type
//! commands return.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `cargo xtask`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project automation for ci-in-preview.",
    after_help = environment_help()
)]
pub(crate) struct Xtask {
    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands, in the order `--help` lists them.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// What CI runs: fmt, clippy, tidy, tests, smoke, container suite, scaffold, workflow linters.
    Ci(Ci),
    /// End-to-end run of the real server and client against in-process mocks.
    Smoke(Smoke),
    /// The Next.js example in Chromium behind an emulated Vercel edge (HTTPS, rewrites,
    /// protection), state from ci-preview.
    E2e(E2e),
    /// Source hygiene: module docs, file length, citations resolve, no outside tracker numbers.
    Tidy,
    /// Build the static server binary and the FROM-scratch image.
    Image,
    /// Benchmarks side by side with their anchors (both kinds unless one is named).
    Bench(Bench),
    /// Saturation run with JWKS faults and a key rotation; pass/fail criteria.
    Soak(Soak),
    /// Scaffold an endpoint crate (NAME like `reports/upload`), register it, add a policy entry.
    NewEndpoint(NewEndpoint),
}

/// `cargo xtask ci`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Ci {
    /// Leave out the scaffold check, the workflow linters and fuzzing.
    #[arg(long)]
    pub(crate) quick: bool,
}

/// `cargo xtask smoke`.
#[derive(Debug, Default, Clone, clap::Args)]
pub(crate) struct Smoke {
    /// Run the server in the FROM-scratch image (testcontainers).
    #[arg(long, conflicts_with = "vercel")]
    pub(crate) docker: bool,
    /// Run the Vercel function binary under an emulated Vercel host instead of the server.
    #[arg(long)]
    pub(crate) vercel: bool,
    /// Use the binaries already built instead of building them first.
    #[arg(long)]
    pub(crate) no_build: bool,
}

/// `cargo xtask e2e`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct E2e {
    /// A flag override (repeatable; default: every example flag away from its default).
    #[arg(long = "flag", value_name = "NAME=VALUE")]
    pub(crate) flags: Vec<String>,
    /// The test user's subject [default: e2e-user-1]; it must be one of the `subjects` of
    /// examples/nextjs/ci-policy.toml's auth/encrypt-session entry (else 400 subject_not_allowed).
    #[arg(long, value_name = "SUB")]
    pub(crate) user: Option<String>,
    /// No Deployment Protection on the edge (and no protection cookie in the state).
    #[arg(long)]
    pub(crate) no_protection: bool,
}

/// `cargo xtask bench`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Bench {
    /// wrk load: release server beside bench/node-reference, RSS, exec -> first 200.
    #[arg(long)]
    pub(crate) load: bool,
    /// criterion: the verifier beside raw RSA, and the cookie codec.
    #[arg(long)]
    pub(crate) micro: bool,
}

/// `cargo xtask soak`.
#[derive(Debug, clap::Args)]
pub(crate) struct Soak {
    /// Length of the run, in seconds (at least 20).
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u64).range(20..))]
    pub(crate) seconds: u64,
    /// Concurrent valid-call workers (at least 4).
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u64).range(4..10_000))]
    pub(crate) workers: u64,
    /// Use the release binary already built instead of building it.
    #[arg(long)]
    pub(crate) no_build: bool,
}

/// `cargo xtask new-endpoint`.
#[derive(Debug, clap::Args)]
pub(crate) struct NewEndpoint {
    /// The endpoint's name, like `reports/upload`.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// Scaffold into that checkout instead of this one.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
}

/// Variables xtask or the suites it runs read, with what they change.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "CI_PREVIEW_REQUIRE_DOCKER=1",
        "no Docker engine is a failure instead of a skip",
    ),
    (
        "CI_PREVIEW_FUZZ=1",
        "`ci` runs each fuzz target briefly (nightly; FUZZ_SECONDS each, default 10)",
    ),
    (
        "CI_PREVIEW_SDK_CHECK_DIR=DIR",
        "folder with `npm install flags@4.3.1`: the live Flags SDK round trip runs",
    ),
    (
        "CI_PREVIEW_REQUIRE_E2E=1",
        "`ci` fails instead of skipping `e2e` when Node.js, Chromium or the example's packages are missing",
    ),
    (
        "CI_PREVIEW_REQUIRE_SDK=1",
        "a missing SDK folder fails the round trip instead of skipping it",
    ),
    (
        "CI_PREVIEW_AUTHJS_CHECK_DIR=DIR",
        "folder with `npm install @auth/core`: the live Auth.js round trip runs",
    ),
    (
        "CI_PREVIEW_REQUIRE_AUTHJS=1",
        "a missing Auth.js folder fails the round trip instead of skipping it",
    ),
    (
        "CI_PREVIEW_JOSE_CHECK_DIR=DIR",
        "folder with `npm install jose`: the live check of minted tokens runs",
    ),
    (
        "CI_PREVIEW_REQUIRE_JOSE=1",
        "a missing jose folder fails that check instead of skipping it",
    ),
    (
        "CI_PREVIEW_TEST_REDIS_URL=URL",
        "a Redis the replay-store suites use instead of starting their own",
    ),
    (
        "CI_PREVIEW_REQUIRE_REDIS=1",
        "no Redis is a failure instead of a skip",
    ),
    (
        "CI_PREVIEW_UPDATE_TEMPLATE_LOCK=1",
        "`template_project` rewrites templates/vercel/Cargo.lock from this checkout",
    ),
    (
        "FUZZ_SECONDS=N",
        "seconds per fuzz target when CI_PREVIEW_FUZZ=1 (default 10)",
    ),
    (
        "CARGO_TARGET_DIR",
        "where the binaries that smoke, soak and image run are found",
    ),
];

/// `--help`'s epilogue: the variables of [`ENVIRONMENT`].
fn environment_help() -> String {
    // The column fits the longest name, so a new variable cannot run into its text.
    let width = ENVIRONMENT
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = String::from("Environment:\n");
    for (name, what) in ENVIRONMENT {
        out.push_str(&format!("  {name:<width$}{what}\n"));
    }
    out
}

/// A command failure: `Usage` exits 2, `Failed` exits 1 (the convention of the CLI too).
#[derive(Debug)]
pub(crate) enum Error {
    Usage(String),
    Failed(String),
}

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "usage: {msg} (see `cargo xtask --help`)"),
            Error::Failed(msg) => f.write_str(msg),
        }
    }
}

impl From<xshell::Error> for Error {
    fn from(err: xshell::Error) -> Self {
        Error::Failed(err.to_string())
    }
}

pub(crate) type Result<T = ()> = std::result::Result<T, Error>;

pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub(crate) fn failed(msg: impl Into<String>) -> Error {
    Error::Failed(msg.into())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_declaration_is_consistent() {
        Xtask::command().debug_assert();
    }

    /// Every existing command name and flag keeps working (scripts and CI call them).
    #[test]
    fn names_and_flags_are_kept() {
        for line in [
            "ci --quick",
            "smoke --docker --no-build",
            "smoke --vercel",
            "e2e --flag a=1 --flag b=2 --user u --no-protection",
            "tidy",
            "image",
            "bench --load --micro",
            "soak --seconds 30 --workers 8 --no-build",
            "new-endpoint reports/upload --root /tmp/x",
        ] {
            let args = std::iter::once("xtask").chain(line.split(' '));
            Xtask::try_parse_from(args).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        for bad in [
            "smoke --docker --vercel",
            "soak --seconds 5",
            "tidy --extra",
        ] {
            let args = std::iter::once("xtask").chain(bad.split(' '));
            assert!(Xtask::try_parse_from(args).is_err(), "{bad}");
        }
    }

    #[test]
    fn help_lists_the_environment() {
        let help = Xtask::command().render_long_help().to_string();
        for (name, what) in ENVIRONMENT {
            assert!(
                help.lines().any(|line| line.trim_start().starts_with(name)
                    && line.trim_end().ends_with(what)
                    && line.contains(&format!("{name}  "))),
                "{name} is not on a line of its own, apart from its text:\n{help}"
            );
        }
    }
}
