//! `cargo xtask bench [--load] [--micro]`: the project's benchmarks, side by side with their
//! anchors in one run (the machine is shared and noisy, so only ratios measured together mean
//! anything).
//!
//! `--micro` (criterion): `ci-oidc`'s verify beside a raw aws-lc-rs RSA-2048 verify of the same
//! token, and the cookie codec. `--load` (wrk): the release server beside the Node reference
//! (`bench/node-reference`, the prototype's route), plus peak RSS and exec → first verified 200.
//! Both by default.

use xshell::{Shell, cmd};

use crate::flags::{self, Result};

pub(crate) fn run(args: &flags::Bench) -> Result {
    let flags::Bench { load, micro } = *args;
    let (load, micro) = if load || micro {
        (load, micro)
    } else {
        (true, true)
    };

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    if micro {
        cmd!(sh, "cargo bench --locked -p ci-oidc --bench verify").run()?;
        cmd!(
            sh,
            "cargo bench --locked -p encrypt-override --bench encrypt"
        )
        .run()?;
    }
    if load {
        cmd!(sh, "bash crates/ci-preview-server/bench/run.sh").run()?;
    }
    Ok(())
}
