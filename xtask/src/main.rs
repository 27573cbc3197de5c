//! Project automation, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! Follows rust-analyzer's xtask layout: one file per command, in Rust, so the steps run the same
//! on every machine; the few pieces that drive outside tools stay shell scripts it calls
//! (`xtask/lint-workflows.sh`, `fuzz/run-brief.sh`, the load bench's `run.sh`).

mod bench;
mod ci;
mod e2e;
mod flags;
mod image;
mod new_endpoint;
mod smoke;
mod soak;
mod steps;
mod tidy;

use std::process::ExitCode;

use clap::Parser;

use crate::flags::{Command, Xtask};

fn main() -> ExitCode {
    // Clap prints `--help` (exit 0) and usage errors (exit 2, as `flags::Error::Usage`).
    let result = match Xtask::parse().command {
        Command::Ci(args) => ci::run(&args),
        Command::Smoke(args) => smoke::run(&args),
        Command::E2e(args) => e2e::run(&args),
        Command::Tidy => tidy::run(),
        Command::Image => image::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Soak(args) => soak::run(&args),
        Command::NewEndpoint(args) => new_endpoint::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// The workspace root: xtask's manifest sits one level below it.
pub fn project_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
