//! Starting `ci-preview-server` for the smoke run: as a child process, or in a container.
//!
//! Either way the server is stopped when the handle drops (success, failure, or an early return
//! from Ctrl-C handling), so a smoke run never leaves a process or container behind. Its output
//! is kept so the run can check that no secret or token ever reached a log line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::flags::{Result, failed};

/// Everything the server needs to start.
pub struct ServerSpec<'a> {
    pub binary: &'a Path,
    /// `Some(image)` runs the server in that image with host networking.
    pub image: Option<&'a str>,
    pub port: u16,
    pub policy: &'a Path,
    pub environment: &'a str,
    pub commit: &'a str,
    pub flags_secret: &'a str,
    pub auth_secret: &'a str,
}

/// A running server; stops it on drop.
pub struct RunningServer {
    child: Child,
    container: Option<String>,
    pub url: String,
    output: Arc<Mutex<String>>,
}

impl RunningServer {
    pub async fn start(spec: &ServerSpec<'_>) -> Result<RunningServer> {
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
            // The session cookie's name must follow the request (plain HTTP here), not the shell.
            .env_remove("AUTH_URL")
            .env_remove("NEXTAUTH_URL")
            .env("RUST_LOG", "info")
            .env_remove("VERCEL_ENV")
            .env_remove("PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| failed(format!("cannot start the server: {e}")))?;

        let output = Arc::new(Mutex::new(String::new()));
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(1);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect(
                BufReader::new(stdout),
                output.clone(),
                Some(ready_tx),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect(BufReader::new(stderr), output.clone(), None));
        }
        let server = RunningServer {
            child,
            container,
            url: format!("http://{listen}"),
            output,
        };
        // The server prints its ready line only after its key store holds keys and the socket
        // accepts, so no polling is needed.
        match tokio::time::timeout(Duration::from_secs(20), ready_rx.recv()).await {
            Ok(Some(())) => Ok(server),
            _ => Err(failed(format!(
                "the server did not print its ready line within 20 s; its output:\n{}",
                server.output()
            ))),
        }
    }

    /// Everything the server wrote so far, stdout and stderr interleaved.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Asks the server to stop (SIGTERM through `docker stop` or `kill`) and waits for it.
    pub async fn stop(mut self) -> Result<std::process::ExitStatus> {
        if let Some(name) = self.container.take() {
            let _ = Command::new("docker")
                .args(["stop", "-t", "5", &name])
                .output()
                .await;
        } else if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => status.map_err(|e| failed(format!("waiting for the server: {e}"))),
            Err(_) => Err(failed("the server did not stop within 10 s of SIGTERM")),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(name) = &self.container {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The child itself is killed by `kill_on_drop`.
    }
}

async fn collect<R: tokio::io::AsyncRead + Unpin>(
    reader: BufReader<R>,
    output: Arc<Mutex<String>>,
    ready: Option<tokio::sync::mpsc::Sender<()>>,
) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(tx) = &ready
            && line.contains("listening on")
        {
            let _ = tx.try_send(());
        }
        if let Ok(mut out) = output.lock() {
            out.push_str(&line);
            out.push('\n');
        }
    }
}

/// A port the OS just handed out on 127.0.0.1 (released again, so the server can take it).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| failed(format!("cannot bind 127.0.0.1:0: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| failed(e.to_string()))
}

/// Where cargo put the debug binaries.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    target.join("debug").join(name)
}
