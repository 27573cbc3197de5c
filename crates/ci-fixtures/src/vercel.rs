//! An emulated Vercel function host, so the function binary (`ci-preview-vercel`) is tested as
//! Vercel runs it, offline.
//!
//! What the host does, as `vercel_runtime` 2.4.1 expects it (its `src/lib.rs` and its own
//! `tests/request_lifecycle.rs`): it listens on a Unix socket named by `VERCEL_IPC_PATH`, starts
//! the function with `VERCEL_DEV_PORT`, reads NUL-terminated JSON frames (one `server-started`
//! carrying the HTTP port, then one `end` per request), forwards each request to
//! `127.0.0.1:PORT` with `x-vercel-internal-invocation-id` / `x-vercel-internal-request-id`, and
//! stops the function with SIGTERM. [`VercelHost::url`] is that forwarding front door (what a
//! deployment URL is); [`VercelHost::function_url`] reaches the function directly.
//!
//! The function runs with a cleared environment plus what the test passes, so nothing from the
//! developer's shell (a `VERCEL_ENV`, a `RUST_LOG`) changes what is tested.

mod frames;
mod proxy;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::UnixListener;
use tokio::process::{Child, Command};

pub use frames::Frames;

/// How long a function gets to connect to the host and say `server-started`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the function did not start: it exited, or stayed silent past the start timeout.
#[derive(Debug)]
pub struct StartFailure {
    /// The exit status, when it exited.
    pub status: Option<ExitStatus>,
    /// Every frame it sent before that (a fail-closed start sends none).
    pub frames: Vec<Value>,
    /// Its stdout and stderr.
    pub output: String,
}

/// A function started under the emulated host; killed when dropped.
#[derive(Debug)]
pub struct VercelHost {
    child: Child,
    port: u16,
    socket_path: PathBuf,
    frames: Frames,
    output: Output,
    proxy: proxy::Proxy,
}

impl VercelHost {
    /// Starts `binary` under the host with `env` (and nothing else from this process's
    /// environment but `PATH`), and waits for its `server-started` frame.
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> Result<VercelHost, StartFailure> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        // Short: a Unix socket path is limited to ~100 bytes.
        let socket_path = std::env::temp_dir().join(format!(
            "vh-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&socket_path);
        let listener = UnixListener::bind(&socket_path).map_err(|e| setup(e.to_string()))?;
        let port = free_port().map_err(setup)?;
        let mut command = function_command(binary, env);
        command
            .env("VERCEL_IPC_PATH", &socket_path)
            .env("VERCEL_DEV_PORT", port.to_string());
        let (mut child, output) = spawn(command).map_err(setup)?;

        let accepted = tokio::select! {
            accepted = listener.accept() => accepted.ok(),
            _ = child.wait() => None,
            _ = tokio::time::sleep(START_TIMEOUT) => None,
        };
        drop(listener);
        let _ = std::fs::remove_file(&socket_path);
        let Some((stream, _)) = accepted else {
            return Err(failure(child, Vec::new(), &output).await);
        };
        let frames = Frames::read(stream);
        let started = tokio::select! {
            frame = frames.next_frame(0, START_TIMEOUT) => frame,
            _ = child.wait() => None,
        };
        match started {
            Some(frame)
                if frame["type"] == "server-started" && frame["payload"]["httpPort"] == port => {}
            _ => return Err(failure(child, frames.all(), &output).await),
        }
        let proxy = proxy::Proxy::start(port).await;
        Ok(VercelHost {
            child,
            port,
            socket_path,
            frames,
            output,
            proxy,
        })
    }

    /// The host's front door: requests sent here reach the function with the internal headers.
    pub fn url(&self) -> &str {
        self.proxy.url()
    }

    /// The function's own port on 127.0.0.1, without the host in between.
    pub fn function_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every frame received so far, `server-started` first.
    pub fn frames(&self) -> Vec<Value> {
        self.frames.all()
    }

    /// How many requests the front door forwarded.
    pub fn forwarded(&self) -> u64 {
        self.proxy.forwarded()
    }

    /// Waits until every forwarded request has exactly one `end` frame with its ids and no
    /// error, and no other frame came; the error says what is missing or extra.
    pub async fn every_request_ended(&self, timeout: Duration) -> Result<(), String> {
        self.frames
            .ends_match(self.proxy.forwarded(), timeout)
            .await
    }

    /// The function's stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Sends SIGTERM, as the host does when it retires an instance, and waits for the exit.
    pub async fn stop(mut self) -> Result<ExitStatus, String> {
        terminate(&mut self.child).await
    }
}

impl Drop for VercelHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket_path);
        // The child itself is killed by `kill_on_drop`.
    }
}

/// The function without a host socket, as `vercel dev` runs it; killed when dropped.
#[derive(Debug)]
pub struct LocalFunction {
    child: Child,
    /// `http://127.0.0.1:PORT`, from the `Dev server listening: PORT` line.
    pub url: String,
    output: Output,
}

impl LocalFunction {
    /// Starts `binary` with `env` and `VERCEL_DEV_PORT` and no `VERCEL_IPC_PATH`; waits for
    /// `Dev server listening: PORT` on stdout.
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> Result<LocalFunction, StartFailure> {
        let port = free_port().map_err(setup)?;
        let mut command = function_command(binary, env);
        command.env("VERCEL_DEV_PORT", port.to_string());
        let (mut child, output) = spawn(command).map_err(setup)?;
        let ready = format!("Dev server listening: {port}");
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if output.text().lines().any(|line| line == ready) {
                return Ok(LocalFunction {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                    output,
                });
            }
            let exited = tokio::select! {
                _ = child.wait() => true,
                _ = tokio::time::sleep(Duration::from_millis(20)) => false,
            };
            if exited || tokio::time::Instant::now() > deadline {
                return Err(failure(child, Vec::new(), &output).await);
            }
        }
    }

    /// The function's stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn stop(mut self) -> Result<ExitStatus, String> {
        terminate(&mut self.child).await
    }
}

/// stdout and stderr of a function, interleaved by line.
#[derive(Debug, Clone, Default)]
struct Output(Arc<Mutex<String>>);

impl Output {
    fn text(&self) -> String {
        self.0.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn collect<R: AsyncRead + Unpin + Send + 'static>(&self, reader: R) {
        let output = self.0.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut out) = output.lock() {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        });
    }
}

fn function_command(binary: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn spawn(mut command: Command) -> Result<(Child, Output), String> {
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the function: {e}"))?;
    let output = Output::default();
    if let Some(stdout) = child.stdout.take() {
        output.collect(stdout);
    }
    if let Some(stderr) = child.stderr.take() {
        output.collect(stderr);
    }
    Ok((child, output))
}

/// The failure report of a function that did not start; stops it if it is still running.
async fn failure(mut child: Child, frames: Vec<Value>, output: &Output) -> StartFailure {
    let status = match child.try_wait() {
        Ok(Some(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    };
    // Let the output readers catch the last lines.
    tokio::time::sleep(Duration::from_millis(50)).await;
    StartFailure {
        status,
        frames,
        output: output.text(),
    }
}

fn setup(message: String) -> StartFailure {
    StartFailure {
        status: None,
        frames: Vec::new(),
        output: format!("host set-up failed: {message}"),
    }
}

async fn terminate(child: &mut Child) -> Result<ExitStatus, String> {
    let pid = child.id().ok_or("the function has already exited")?;
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .map_err(|e| format!("cannot run kill: {e}"))?;
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .map_err(|_| "the function did not exit within 10 s of SIGTERM".to_owned())?
        .map_err(|e| format!("waiting for the function: {e}"))
}

/// A port the OS just handed out on 127.0.0.1 (released again for the function to bind).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))
}
