//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.
//!
//! One command so that a contributor runs exactly what `.ci/run` and `.github/workflows/ci.yml`
//! run. Optional pieces that need a system service (a Docker engine, the Flags SDK) run when the
//! service is there and say plainly when they are skipped; the `CI_PREVIEW_REQUIRE_*` variables,
//! set by `.ci/run`, turn such a skip into a failure.

use std::time::Instant;

use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed};

pub fn run(args: &[String]) -> Result {
    let mut args = args.to_vec();
    let quick = flags::take_switch(&mut args, "--quick");
    flags::reject_rest(&args)?;

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    let mut steps = Steps::default();

    steps.run("cargo fmt --check", || {
        cmd!(sh, "cargo fmt --all -- --check").run()?;
        Ok(())
    })?;
    steps.run("cargo clippy -D warnings", || {
        cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
        Ok(())
    })?;
    steps.run("cargo test --workspace", || {
        cmd!(sh, "cargo test --workspace --locked").run()?;
        Ok(())
    })?;
    if !quick {
        steps.run("workflow linters (actionlint, zizmor)", || {
            cmd!(sh, "bash xtask/lint-workflows.sh").run()?;
            Ok(())
        })?;
    }
    steps.print();
    Ok(())
}

/// Runs named steps, stops at the first failure and prints how long each one took.
#[derive(Default)]
struct Steps {
    done: Vec<(String, f64, &'static str)>,
}

impl Steps {
    fn run(&mut self, name: &str, step: impl FnOnce() -> Result) -> Result {
        eprintln!("\n==> {name}");
        let started = Instant::now();
        let outcome = step();
        let secs = started.elapsed().as_secs_f64();
        let status = if outcome.is_ok() { "ok" } else { "FAILED" };
        self.done.push((name.to_owned(), secs, status));
        if outcome.is_err() {
            self.print();
        }
        outcome.map_err(|e| failed(format!("step `{name}` failed: {e}")))
    }

    fn print(&self) {
        eprintln!("\n{:<44} {:>9}  status", "step", "seconds");
        for (name, secs, status) in &self.done {
            eprintln!("{name:<44} {secs:>9.1}  {status}");
        }
    }
}
