//! The release server as a child process for the soak: started against the mock issuer with the
//! soak's refetch cooldown, watched through `/proc`, stopped with SIGTERM, and its log read back.
//!
//! The log goes to a file rather than a pipe: at saturation the server writes thousands of lines
//! a second, and a pipe nobody drains fast enough would throttle the very thing being measured.

use std::path::PathBuf;
use std::time::Duration;

use ci_fixtures::{MockIssuer, ServerProcess};
use tokio::process::Command;

use super::traffic::AUDIENCE;
use crate::flags::{Result, failed};

pub(super) struct Server {
    process: ServerProcess,
    pid: u32,
    pub url: String,
    /// Dropped after the process (field order), which `kill_on_drop` ends.
    _dir: WorkDir,
}

/// What the stop and the log said.
pub(super) struct Stopped {
    pub clean_exit: bool,
    pub fetch_failures: usize,
    /// Log lines that look like they carry a JWS/JWE (`eyJ`: base64url of `{"`).
    pub leaks: usize,
}

impl Server {
    pub(super) async fn start(
        issuer: &MockIssuer,
        secret: &str,
        cooldown_secs: u64,
    ) -> Result<Server> {
        let dir = std::env::temp_dir().join(format!("ci-preview-soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let policy = dir.join("ci-policy.toml");
        std::fs::write(
            &policy,
            issuer.policy_toml(encrypt_override::NAME, AUDIENCE),
        )
        .map_err(|e| failed(format!("writing the policy: {e}")))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(format!("cannot find a free port: {e}")))?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(binary());
        command
            .arg("--policy")
            .arg(&policy)
            .args(["--jwks-refetch-cooldown", &cooldown_secs.to_string()])
            .env("CI_PREVIEW_LISTEN", &listen)
            .env("CI_PREVIEW_ENV", "preview")
            .env("FLAGS_SECRET", secret)
            .env("RUST_LOG", "info")
            .env_remove("VERCEL_ENV")
            .env_remove("PORT");
        let process = ServerProcess::start_logging_to(command, &dir.join("server.log"))
            .await
            .map_err(|e| failed(format!("{}: {e}", binary().display())))?;
        let pid = process
            .pid()
            .ok_or_else(|| failed("the server exited at once"))?;
        Ok(Server {
            url: process.url().to_owned(),
            process,
            pid,
            _dir: WorkDir(dir),
        })
    }

    /// Resident set size, KiB.
    pub(super) fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`).
    pub(super) fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the server used so far (user + system), from `/proc/PID/stat` (clock ticks of
    /// 1/100 s, the value on every Linux this runs on).
    pub(super) fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    /// The last lines of the server's log, for error messages.
    pub(super) fn log_tail(&self) -> String {
        let log = self.process.logs();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, wait, and read the log (the work directory goes when `self` drops).
    pub(super) async fn stop(self) -> Stopped {
        let stopped = self.process.stop("-TERM", Duration::from_secs(15)).await;
        let log = stopped.logs;
        Stopped {
            clean_exit: stopped.code == 0,
            fetch_failures: log.matches("JWKS fetch failed").count(),
            leaks: log.lines().filter(|l| l.contains("eyJ")).count(),
        }
    }
}

/// The soak's work folder (policy, log), removed when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    target.join("release").join("ci-preview-server")
}
