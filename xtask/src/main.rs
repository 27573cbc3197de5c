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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{}", flags::help());
        return ExitCode::from(2);
    };
    // `cargo xtask NAME --help` prints that command's help, whatever else was given.
    if let Some(declared) = flags::find(command)
        && rest.iter().any(|a| a == "--help" || a == "-h")
    {
        print!("{}", flags::command_help(declared));
        return ExitCode::SUCCESS;
    }
    let result = match command.as_str() {
        "ci" => ci::run(rest),
        "smoke" => smoke::run(rest),
        "e2e" => e2e::run(rest),
        "tidy" => tidy::run(rest),
        "image" => image::run(rest),
        "bench" => bench::run(rest),
        "soak" => soak::run(rest),
        "new-endpoint" => new_endpoint::run(rest),
        "-h" | "--help" | "help" => {
            print!("{}", flags::help());
            return ExitCode::SUCCESS;
        }
        other => Err(flags::usage(format!("unknown command `{other}`"))),
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
