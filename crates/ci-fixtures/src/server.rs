//! `ci-preview-server` as a child process: start it, wait for its ready line, collect its logs,
//! stop it. One implementation for the server's end-to-end tests, the replay tests, the client's
//! real-server tests and the xtask runs, so they all read the ready line the same way.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

/// The one line the server writes to stdout once it is serving; the address follows it.
pub const READY_PREFIX: &str = "ci-preview-server listening on http://";

/// How long [`ServerProcess::start`] waits for the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a server did not become ready: it exited (`code`, -1 for a signal) or gave no ready line
/// in time (`code` is `None`, and it was killed); `logs` is its stderr.
#[derive(Debug)]
pub struct NotReady {
    /// The exit code (`-1` for a signal), `None` when it was killed for giving no ready line.
    pub code: Option<i32>,
    /// Its stderr.
    pub logs: String,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(
                f,
                "server exited {code} before its ready line: {}",
                self.logs
            ),
            None => write!(f, "no ready line within {READY_TIMEOUT:?}: {}", self.logs),
        }
    }
}

impl std::error::Error for NotReady {}

/// How a stopped server ended.
#[derive(Debug)]
pub struct Stopped {
    /// Exit code; -1 when it died of a signal.
    pub code: i32,
    /// From the signal to the exit.
    pub elapsed: Duration,
    /// Everything on stderr.
    pub logs: String,
    /// Stdout after the ready line (the contract says: nothing).
    pub extra_stdout: Vec<String>,
}

/// Where the server's stderr goes.
#[derive(Debug, Clone)]
enum Logs {
    /// Read by a task into memory.
    Memory(Arc<Mutex<String>>),
    /// Written by the server straight to a file: at load it logs thousands of lines a second,
    /// and a pipe drained too slowly would throttle what is being measured.
    File(PathBuf),
}

impl Logs {
    fn text(&self) -> String {
        match self {
            Logs::Memory(text) => lock(text).clone(),
            Logs::File(path) => {
                String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
            }
        }
    }

    fn note(&self, line: &str) {
        if let Logs::Memory(text) = self {
            lock(text).push_str(line);
        }
    }
}

/// A running server; killed if dropped before [`ServerProcess::stop`].
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    url: String,
    logs: Logs,
    extra_stdout: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Spawns `command` (its stdio is set here) and waits for the ready line; stderr is kept in
    /// memory.
    pub async fn start(command: Command) -> Result<ServerProcess, NotReady> {
        Self::spawn(command, None).await
    }

    /// Like [`ServerProcess::start`], with stderr written by the server to `log_file`.
    pub async fn start_logging_to(
        command: Command,
        log_file: &Path,
    ) -> Result<ServerProcess, NotReady> {
        Self::spawn(command, Some(log_file)).await
    }

    async fn spawn(
        mut command: Command,
        log_file: Option<&Path>,
    ) -> Result<ServerProcess, NotReady> {
        let logs = match log_file {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| NotReady {
                    code: None,
                    logs: format!("cannot create {}: {e}", path.display()),
                })?;
                command.stderr(file);
                Logs::File(path.to_owned())
            }
            None => {
                command.stderr(Stdio::piped());
                Logs::Memory(Arc::default())
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| NotReady {
            code: None,
            logs: format!("cannot start the server: {e}"),
        })?;
        if let (Some(mut stderr), Logs::Memory(sink)) = (child.stderr.take(), &logs) {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = stderr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    lock(&sink).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let Some(stdout) = child.stdout.take() else {
            unreachable!("stdout is piped above");
        };
        let mut stdout = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(READY_TIMEOUT, stdout.next_line()).await {
            Ok(line) => line.ok().flatten(),
            Err(_) => {
                let _ = child.kill().await;
                return Err(NotReady {
                    code: None,
                    logs: logs.text(),
                });
            }
        };
        let Some(addr) = line.as_deref().and_then(|l| l.strip_prefix(READY_PREFIX)) else {
            let _ = child.kill().await;
            let status = child.wait().await.ok();
            // stderr is read by another task: let it catch up with the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut text = logs.text();
            if let Some(line) = line {
                text.push_str(&format!("\n(stdout: {line})"));
            }
            return Err(NotReady {
                code: Some(status.and_then(|s| s.code()).unwrap_or(-1)),
                logs: text,
            });
        };
        let url = format!("http://{addr}");
        let extra_stdout = Arc::new(Mutex::new(Vec::new()));
        let sink = extra_stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                lock(&sink).push(line);
            }
        });
        Ok(ServerProcess {
            child,
            url,
            logs,
            extra_stdout,
        })
    }

    /// `http://127.0.0.1:PORT`, from the ready line.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Its stderr so far.
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// The logs once `needle` appears `count` times in them (stderr is read by another task, so
    /// a line written before an answer may arrive just after it), or after 5 s.
    pub async fn logs_with(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if logs.matches(needle).count() >= count || Instant::now() > deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (`-TERM`, `-INT`, …) with `kill` and waits up to `within` for the exit;
    /// kills it if that passes (and says so in `logs`).
    pub async fn stop(self, signal: &str, within: Duration) -> Stopped {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
        self.wait(within).await
    }

    /// Waits up to `within` for an exit something else asked for (e.g. `docker stop`); kills it
    /// if that passes (and says so in `logs`).
    pub async fn wait(mut self, within: Duration) -> Stopped {
        let sent = Instant::now();
        let code = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => status.code().unwrap_or(-1),
            _ => {
                let _ = self.child.kill().await;
                self.logs
                    .note(&format!("\n(no exit within {within:?}: killed)"));
                -1
            }
        };
        let elapsed = sent.elapsed();
        tokio::time::sleep(Duration::from_millis(50)).await;
        Stopped {
            code,
            elapsed,
            logs: self.logs(),
            extra_stdout: lock(&self.extra_stdout).clone(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
