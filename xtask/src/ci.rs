//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.
//!
//! One command so that a contributor runs exactly what `.ci/run` and `.github/workflows/ci.yml`
//! run. Optional pieces that need a system service (a Docker engine, the Flags SDK) run when the
//! service is there and say plainly when they are skipped; the `CI_PREVIEW_REQUIRE_*` variables,
//! set by `.ci/run`, turn such a skip into a failure.

use xshell::{Shell, cmd};

use crate::flags::{self, Result};
use crate::steps::Steps;

pub fn run(args: &[String]) -> Result {
    let mut args = args.to_vec();
    let quick = flags::take_switch(&mut args, "--quick");
    flags::reject_rest(&args)?;

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    let mut steps = Steps::default();

    eprintln!("==> cargo fmt --check");
    steps.run("cargo fmt --check", || {
        cmd!(sh, "cargo fmt --all -- --check").run()?;
        Ok(())
    })?;
    steps.run("cargo clippy -D warnings", || {
        cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?;
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
