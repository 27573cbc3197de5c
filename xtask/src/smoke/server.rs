//! Starting `ci-preview-server` for the smoke run: as a child process, or in a container.
//!
//! Either way the server is stopped when the handle drops (success, failure, or an early return
//! from Ctrl-C handling), so a smoke run never leaves a process or container behind. Its output
//! is kept so the run can check that no secret or token ever reached a log line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ci_fixtures::ServerProcess;
use tokio::process::Command;

use crate::flags::{Result, failed};

/// Everything the server needs to start.
pub(super) struct ServerSpec<'a> {
    pub binary: &'a Path,
    /// `Some(image)` runs the server in that image with host networking.
    pub image: Option<&'a str>,
    pub port: u16,
    pub policy: &'a Path,
    pub environment: &'a str,
    pub commit: &'a str,
    pub flags_secret: &'a str,
    pub auth_secret: &'a str,
    /// VERCEL_AUTOMATION_BYPASS_SECRET, for `vercel/protection-cookie`.
    pub bypass_secret: &'a str,
    /// CI_PREVIEW_SELF_URL: the emulated edge in front of the deployment.
    pub self_url: &'a str,
    /// More of the preview's variables (the endpoints of `endpoints.rs`; not in `--docker`).
    pub extra_env: &'a [(String, String)],
}

/// A running server; stops it on drop.
pub(super) struct RunningServer {
    process: Option<ServerProcess>,
    container: Option<String>,
    pub url: String,
}

impl RunningServer {
    pub(super) async fn start(spec: &ServerSpec<'_>) -> Result<RunningServer> {
        let listen = format!("127.0.0.1:{}", spec.port);
        let mut container = None;
        let mut cmd = match spec.image {
            None => {
                let mut cmd = Command::new(spec.binary);
                cmd.arg("--policy").arg(spec.policy);
                cmd
            }
            Some(image) => {
                // The bind mount exposes only the file, read as the image's user (65532): it
                // must be world-readable whatever the umask (the policy holds no secret).
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(spec.policy, std::fs::Permissions::from_mode(0o644))
                        .map_err(|e| failed(format!("{}: {e}", spec.policy.display())))?;
                }
                let name = format!("ci-preview-smoke-{}-{}", std::process::id(), spec.port);
                let mut cmd = Command::new("docker");
                // `-e NAME` without a value hands the variable over from this process's
                // environment, so the secret never appears in a command line (`ps`).
                cmd.args(["run", "--rm", "--network", "host", "--name", &name])
                    .args(["-e", "CI_PREVIEW_LISTEN", "-e", "CI_PREVIEW_ENV"])
                    .args([
                        "-e",
                        "VERCEL_GIT_COMMIT_SHA",
                        "-e",
                        "FLAGS_SECRET",
                        "-e",
                        "AUTH_SECRET",
                        "-e",
                        "VERCEL_AUTOMATION_BYPASS_SECRET",
                        "-e",
                        "CI_PREVIEW_SELF_URL",
                    ])
                    .args(["-e", "RUST_LOG", "-v"])
                    .arg(format!("{}:/etc/ci-policy.toml:ro", spec.policy.display()))
                    .arg(image)
                    .args(["--policy", "/etc/ci-policy.toml"]);
                container = Some(name);
                cmd
            }
        };
        cmd.env("CI_PREVIEW_LISTEN", &listen)
            .env("CI_PREVIEW_ENV", spec.environment)
            .env("VERCEL_GIT_COMMIT_SHA", spec.commit)
            .env("FLAGS_SECRET", spec.flags_secret)
            .env("AUTH_SECRET", spec.auth_secret)
            .env("VERCEL_AUTOMATION_BYPASS_SECRET", spec.bypass_secret)
            .env("CI_PREVIEW_SELF_URL", spec.self_url)
            // The session cookie's name must follow the request (plain HTTP here), not the shell.
            .env_remove("AUTH_URL")
            .env_remove("NEXTAUTH_URL")
            .env("RUST_LOG", "info")
            .env_remove("VERCEL_ENV")
            .env_remove("PORT");
        if spec.image.is_none() {
            cmd.envs(spec.extra_env.iter().map(|(k, v)| (k, v)));
        }
        // The server prints its ready line only after its key store holds keys and the socket
        // accepts, so no polling is needed.
        let process = ServerProcess::start(cmd).await.map_err(|e| {
            if let Some(name) = &container {
                remove_container(name);
            }
            failed(format!("the server did not get ready: {e}"))
        })?;
        Ok(RunningServer {
            url: process.url().to_owned(),
            process: Some(process),
            container,
        })
    }

    /// Everything the server wrote to stderr so far (stdout holds only its ready line).
    pub(super) fn output(&self) -> String {
        self.process
            .as_ref()
            .map(ServerProcess::logs)
            .unwrap_or_default()
    }

    /// Asks the server to stop (SIGTERM through `docker stop` or `kill`) and waits for it.
    pub(super) async fn stop(mut self) -> Result<i32> {
        let Some(process) = self.process.take() else {
            return Err(failed("the server was stopped already"));
        };
        let stopped = match self.container.take() {
            Some(name) => {
                let _ = Command::new("docker")
                    .args(["stop", "-t", "5", &name])
                    .output()
                    .await;
                process.wait(Duration::from_secs(10)).await
            }
            None => process.stop("-TERM", Duration::from_secs(10)).await,
        };
        if stopped.logs.contains("no exit within") {
            return Err(failed("the server did not stop within 10 s of SIGTERM"));
        }
        Ok(stopped.code)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(name) = &self.container {
            remove_container(name);
        }
        // The child itself is killed by `kill_on_drop`.
    }
}

fn remove_container(name: &str) {
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A port the OS just handed out on 127.0.0.1 (released again, so the server can take it).
pub(super) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| failed(format!("cannot bind 127.0.0.1:0: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| failed(e.to_string()))
}

/// Where cargo put the debug binaries.
pub(super) fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    target.join("debug").join(name)
}

/// No secret and no minted token (any of its segments) in the servers' output.
pub(crate) fn check_logs<'a>(
    logs: &str,
    secrets: &[&str],
    tokens: impl Iterator<Item = &'a str>,
) -> Result {
    if secrets.iter().any(|secret| logs.contains(secret)) {
        return Err(failed(
            "FLAGS_SECRET, AUTH_SECRET, the bypass secret, TOKENS_MINT_KEY or CLERK_SECRET_KEY \
             appears in the server's output",
        ));
    }
    for token in tokens {
        // Any of the three JWT segments would be a leak; the signature is the telling one.
        if let Some(signature) = token.rsplit('.').next()
            && logs.contains(signature)
        {
            return Err(failed("a minted token appears in the server's output"));
        }
    }
    Ok(())
}
