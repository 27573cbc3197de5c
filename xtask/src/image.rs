//! `cargo xtask image`: the static server binary and the FROM-scratch image around it.
//!
//! The gnu target with `+crt-static` gives a static-pie binary that runs with no libc in the
//! image (the musl target would need a musl C compiler for aws-lc-sys, which is not installed).
//! The build context holds only the binary and the Dockerfile, so nothing else can leak in.

use xshell::{Shell, cmd};

use crate::flags::{Result, failed};

/// The tag the container suite and `smoke --docker` run; never pulled, always built here.
pub(crate) const IMAGE: &str = "ci-preview-server:local";
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub(crate) fn run() -> Result {
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
pub(crate) fn build(sh: &Shell) -> Result<String> {
    // Before the long release build, not after it.
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
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target_dir
        .join(TARGET)
        .join("release")
        .join("ci-preview-server");
    check_static(&binary)?;
    let context = target_dir.join("image-context");
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context).map_err(|e| failed(e.to_string()))?;
    std::fs::copy(&binary, context.join("ci-preview-server"))
        .map_err(|e| failed(format!("{}: {e}", binary.display())))?;
    std::fs::copy(root.join("Dockerfile"), context.join("Dockerfile"))
        .map_err(|e| failed(format!("Dockerfile: {e}")))?;
    let previous = image_id(sh);
    eprintln!("==> docker build -t {IMAGE}");
    cmd!(sh, "docker build --quiet -t {IMAGE} {context}")
        .ignore_stdout()
        .run()?;
    // Each rebuild would otherwise leave the old ~10 MB image behind, untagged.
    if let Some(old) = previous.filter(|old| image_id(sh).as_ref() != Some(old)) {
        let _ = cmd!(sh, "docker image rm {old}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run();
    }
    Ok(IMAGE.to_owned())
}

fn image_id(sh: &Shell) -> Option<String> {
    cmd!(sh, "docker image inspect --format")
        .arg("{{.Id}}")
        .arg(IMAGE)
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
}

/// A dynamically linked binary would fail in the scratch image with a bare "no such file or
/// directory" (its loader is missing): catch that here, with the reason. A dynamic ELF names
/// its loader (`PT_INTERP`) in its first page; a static-pie has none.
fn check_static(binary: &std::path::Path) -> Result {
    use std::io::Read as _;
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(binary)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| failed(format!("{}: {e}", binary.display())))?;
    if head[..n].windows(8).any(|w| w == b"ld-linux") {
        return Err(failed(format!(
            "{} is dynamically linked (was RUSTFLAGS overridden?); the scratch image needs +crt-static",
            binary.display()
        )));
    }
    Ok(())
}
