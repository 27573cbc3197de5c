//! Project automation, run as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! Follows rust-analyzer's xtask layout: one file per command, plain Rust instead of shell
//! scripts so it runs the same on every machine, and as few dependencies as possible.

mod bench;
mod ci;
mod flags;
mod image;
mod new_endpoint;
mod smoke;
mod soak;
mod steps;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command>

Commands:
  ci                  what CI runs: fmt, clippy, tests, smoke, container suite, workflow linters
  smoke [--docker|--vercel]
                      end-to-end run of server + client against in-process mocks
                      (--docker: the server's image; --vercel: the Vercel function binary
                      under an emulated Vercel host)
  image               build the static server binary and the FROM-scratch image
  bench               benchmarks (criterion, load run side by side with the Node reference)
  soak                60 s saturation run with JWKS faults and key rotation
  new-endpoint NAME   scaffold an endpoint crate, register it, add a policy entry
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{HELP}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "ci" => ci::run(rest),
        "smoke" => smoke::run(rest),
        "image" => image::run(rest),
        "bench" => bench::run(rest),
        "soak" => soak::run(rest),
        "new-endpoint" => new_endpoint::run(rest),
        "-h" | "--help" | "help" => {
            print!("{HELP}");
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
