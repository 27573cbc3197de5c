//! The example app as a preview runs it: `next build` once, then `next start` on loopback with the
//! environment Vercel gives a preview deployment (`VERCEL=1`, `VERCEL_ENV=preview`, `VERCEL_URL`)
//! and the app's own secrets. Its process group is stopped when the handle drops.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::flags::{Result, failed};

/// How long `next start` gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The variables a Node step may see besides the ones passed in: nothing from the developer's
/// shell changes what the app does.
fn node_command(example: &Path, program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(example)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("NEXT_TELEMETRY_DISABLED", "1")
        .stdin(Stdio::null());
    command
}

/// `npm ci` when `node_modules` is missing or older than the lockfile.
pub(super) fn install(example: &Path) -> Result<bool> {
    let lock = example.join("package-lock.json");
    let installed = example.join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&installed).is_some_and(|i| modified(&lock).is_some_and(|l| i >= l)) {
        return Ok(false);
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(example)
        .status()
        .map_err(|e| {
            failed(format!(
                "cannot run npm (install Node.js 20.9 or later): {e}"
            ))
        })?;
    if !status.success() {
        return Err(failed(format!(
            "npm ci in {} failed: {status}",
            example.display()
        )));
    }
    Ok(true)
}

/// `next build`, with the output shown only on failure.
pub(super) async fn build(example: &Path) -> Result {
    let out = node_command(example, "node")
        .args(["node_modules/next/dist/bin/next", "build"])
        .env("NODE_ENV", "production")
        .output()
        .await
        .map_err(|e| failed(format!("cannot run node: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "next build failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// `next start` on 127.0.0.1; stopped (its whole process group) on drop.
pub(super) struct App {
    child: Child,
    pub url: String,
    output: Arc<Mutex<String>>,
}

impl App {
    pub(super) async fn start(example: &Path, port: u16, env: &[(&str, &str)]) -> Result<App> {
        let port_text = port.to_string();
        let mut command = node_command(example, "node");
        command
            .args([
                "node_modules/next/dist/bin/next",
                "start",
                "-H",
                "127.0.0.1",
                "-p",
            ])
            .arg(&port_text)
            .env("NODE_ENV", "production")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| failed(format!("cannot start next: {e}")))?;
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take(), &output);
        collect(child.stderr.take(), &output);
        let app = App {
            child,
            url: format!("http://127.0.0.1:{port}"),
            output,
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline {
                return Err(failed(format!(
                    "next start did not listen on port {port} within {START_TIMEOUT:?}:\n{}",
                    app.output()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(app)
    }

    /// What `next start` printed so far.
    pub(super) fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // The group: `next start` may run its server in a child process.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

fn collect<R: AsyncRead + Unpin + Send + 'static>(reader: Option<R>, into: &Arc<Mutex<String>>) {
    let Some(reader) = reader else { return };
    let into = into.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut out) = into.lock() {
                out.push_str(&line);
                out.push('\n');
            }
        }
    });
}
