//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.
//!
//! One command so that a contributor runs exactly what `.ci/run` and `.github/workflows/ci.yml`
//! run. Pieces that need a system service (a Docker engine) run when the service answers and say
//! plainly when they skip; `CI_PREVIEW_REQUIRE_DOCKER=1`, set by `.ci/run`, turns that skip into a
//! failure. The browser e2e needs Node.js and Chromium the same way (`CI_PREVIEW_REQUIRE_E2E=1`). `--quick` leaves out the scaffold check, the workflow linters and fuzzing.

use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed};
use crate::steps::Steps;

pub(crate) fn run(args: &flags::Ci) -> Result {
    let quick = args.quick;

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    let mut steps = Steps::default();
    let outcome = run_steps(&sh, &mut steps, quick);
    steps.print();
    outcome
}

fn run_steps(sh: &Shell, steps: &mut Steps, quick: bool) -> Result {
    steps.run("cargo fmt --check", || {
        cmd!(sh, "cargo fmt --all -- --check").run()?;
        Ok(())
    })?;
    steps.run("cargo xtask tidy", crate::tidy::run)?;
    steps.run("cargo clippy -D warnings", || {
        cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?;
        Ok(())
    })?;
    let docker = docker_available()?;
    if docker {
        // Before the tests: the container suite runs this image and never pulls.
        steps.run("cargo xtask image", || crate::image::build(sh).map(drop))?;
    }
    steps.run("cargo test --workspace", || {
        cmd!(sh, "cargo test --workspace --locked").run()?;
        Ok(())
    })?;
    // The workspace runs the default backend (aws-lc); the template's function runs `ring`: the
    // verifier's suite under it here, the function end to end in the template project test above.
    steps.run("cargo test -p ci-oidc (ring backend)", || {
        cmd!(
            sh,
            "cargo test -p ci-oidc --no-default-features --features ring --locked"
        )
        .run()?;
        Ok(())
    })?;
    steps.run("cargo xtask smoke", || {
        crate::smoke::run(&flags::Smoke {
            no_build: true,
            ..flags::Smoke::default()
        })
    })?;
    steps.run("cargo xtask smoke --vercel", || {
        crate::smoke::run(&flags::Smoke {
            no_build: true,
            vercel: true,
            ..flags::Smoke::default()
        })
    })?;
    if docker {
        steps.run("cargo xtask smoke --docker", || {
            crate::smoke::run(&flags::Smoke {
                no_build: true,
                docker: true,
                ..flags::Smoke::default()
            })
        })?;
    }
    if e2e_available()? {
        steps.run("cargo xtask e2e (Next.js example in Chromium)", || {
            crate::e2e::run(&flags::E2e::default())
        })?;
    }
    if quick {
        return Ok(());
    }
    steps.run("new-endpoint scaffold compiles and passes", || {
        crate::new_endpoint::check_scaffold(sh)
    })?;
    steps.run("workflow linters (actionlint, zizmor)", || {
        cmd!(sh, "bash xtask/lint-workflows.sh").run()?;
        Ok(())
    })?;
    if std::env::var_os("CI_PREVIEW_FUZZ").is_some_and(|v| v == "1") {
        steps.run("fuzz targets, briefly", || {
            cmd!(sh, "bash fuzz/run-brief.sh").run()?;
            Ok(())
        })?;
    } else {
        eprintln!(
            "fuzz: skipped (set CI_PREVIEW_FUZZ=1 to run each target briefly; needs nightly)"
        );
    }
    Ok(())
}

/// Whether `e2e` can run: Node.js with npm, `redis-server`, and Chromium (`CHROMIUM_PATH`, default
/// `/usr/bin/chromium`). Without them it is skipped, loudly, unless `CI_PREVIEW_REQUIRE_E2E=1`
/// makes that an error.
fn e2e_available() -> Result<bool> {
    let runs = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        ("node", runs("node")),
        ("npm", runs("npm")),
        ("redis-server", runs("redis-server")),
    ]
    .into_iter()
    .chain([(chromium.as_str(), std::path::Path::new(&chromium).exists())])
    .filter(|(_, present)| !present)
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        return Ok(true);
    }
    if std::env::var_os("CI_PREVIEW_REQUIRE_E2E").is_some_and(|v| v == "1") {
        return Err(failed(format!(
            "`e2e` needs {missing:?} and CI_PREVIEW_REQUIRE_E2E=1: install them (`apt-get install \
             chromium nodejs npm redis-server`) or unset the variable"
        )));
    }
    eprintln!("\nSKIPPED: `cargo xtask e2e` (missing: {missing:?})\n");
    Ok(false)
}

/// Whether a Docker engine answers; without one the container steps are skipped, loudly,
/// unless `CI_PREVIEW_REQUIRE_DOCKER=1` makes that an error.
fn docker_available() -> Result<bool> {
    let answers = std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if answers {
        return Ok(true);
    }
    if std::env::var_os("CI_PREVIEW_REQUIRE_DOCKER").is_some_and(|v| v == "1") {
        return Err(failed(
            "no Docker engine answers and CI_PREVIEW_REQUIRE_DOCKER=1: start one \
             (`dockerd --bridge=none --iptables=false &`) or unset the variable",
        ));
    }
    eprintln!(
        "\nSKIPPED: the image build, the container suite's checks and `smoke --docker` \
         (no Docker engine answers `docker info`)\n"
    );
    Ok(false)
}
