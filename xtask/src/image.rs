//! `cargo xtask image`: the static server binary and the FROM-scratch image around it.
//!
//! The gnu target with `+crt-static` gives a static-pie binary that runs with no libc in the
//! image (the musl target would need a musl C compiler for aws-lc-sys, which is not installed).
//! The build context holds only the binary and the Dockerfile, so nothing else can leak in.

use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed};

/// The tag the container suite and `smoke --docker` run; never pulled, always built here.
pub const IMAGE: &str = "ci-preview-server:local";
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub fn run(args: &[String]) -> Result {
    flags::reject_rest(args)?;
    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    build(&sh)?;
    let size = cmd!(sh, "docker image inspect --format")
        .arg("{{.Size}}")
        .arg(IMAGE)
        .read()?;
    let bytes: f64 = size.trim().parse().unwrap_or(0.0);
    eprintln!("image {IMAGE}: {:.1} MB", bytes / 1_000_000.0);
    Ok(())
}

/// Builds the static binary and the image; returns the image tag.
pub fn build(sh: &Shell) -> Result<String> {
    eprintln!("==> static release build of ci-preview-server ({TARGET}, +crt-static)");
    {
        let _flags = sh.push_env("RUSTFLAGS", "-C target-feature=+crt-static");
        cmd!(
            sh,
            "cargo build --quiet --release --locked --target {TARGET} -p ci-preview-server"
        )
        .run()?;
    }
    let root = crate::project_root();
    let binary = root
        .join("target")
        .join(TARGET)
        .join("release")
        .join("ci-preview-server");
    let context = root.join("target").join("image-context");
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context).map_err(|e| failed(e.to_string()))?;
    std::fs::copy(&binary, context.join("ci-preview-server"))
        .map_err(|e| failed(format!("{}: {e}", binary.display())))?;
    std::fs::copy(root.join("Dockerfile"), context.join("Dockerfile"))
        .map_err(|e| failed(format!("Dockerfile: {e}")))?;
    if cmd!(sh, "docker info")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        return Err(failed(
            "no Docker engine answers: start one (e.g. `dockerd --bridge=none --iptables=false &`)",
        ));
    }
    eprintln!("==> docker build -t {IMAGE}");
    cmd!(sh, "docker build --quiet -t {IMAGE} {context}")
        .ignore_stdout()
        .run()?;
    Ok(IMAGE.to_owned())
}
