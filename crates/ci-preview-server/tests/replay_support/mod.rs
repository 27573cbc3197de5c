//! A `ci-preview-server` process for the replay and binding tests: started with a policy and
//! environment of the test's choosing, reached over HTTP, its stderr collected for log checks.

#![allow(dead_code)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ci_fixtures::{MockIssuer, token::uuid};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

pub const NAME: &str = "flags/encrypt-override";
pub const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
pub const READY_PREFIX: &str = "ci-preview-server listening on http://";
pub const BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;
pub const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
pub const UNAVAILABLE: &str = r#"{"error":"unavailable"}"#;

/// A running server process; killed on drop.
pub struct Server {
    _child: Child,
    pub base: String,
    logs: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// A fresh audience per test: its Redis keys are a namespace no other test touches.
pub fn audience(test: &str) -> String {
    format!("https://preview.test/{test}/{}/api/~/ci/{NAME}", uuid())
}

/// The mock issuer's policy for `audience`, plus `extra` keys in the endpoint's table.
pub fn policy(issuer: &MockIssuer, audience: &str, extra: &str) -> String {
    format!("{}{extra}", issuer.policy_toml(NAME, audience))
}

/// Starts the binary with exactly `env` (plus the preview basics); `Err((code, logs))` if it
/// exits before its ready line.
pub async fn start(policy: &str, env: &[(&str, &str)]) -> Result<Server, (i32, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ci-policy.toml");
    std::fs::write(&path, policy).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ci-preview-server"))
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("CI_PREVIEW_ENV", "preview")
        .env("FLAGS_SECRET", SECRET)
        .envs(env.iter().copied())
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let logs = Arc::new(Mutex::new(String::new()));
    let (mut stderr, sink) = (child.stderr.take().unwrap(), logs.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("ready line or exit within 30 s")
        .unwrap();
    match line {
        Some(line) => {
            let addr = line.strip_prefix(READY_PREFIX).expect("the ready line");
            Ok(Server {
                base: format!("http://{addr}"),
                _child: child,
                logs,
                _dir: dir,
            })
        }
        None => {
            let status = child.wait().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let text = logs.lock().unwrap().clone();
            Err((status.code().unwrap_or(-1), text))
        }
    }
}

pub async fn start_ready(policy: &str, env: &[(&str, &str)]) -> Server {
    start(policy, env)
        .await
        .unwrap_or_else(|(code, logs)| panic!("server exited {code}: {logs}"))
}

/// An answer: status, `Retry-After`, body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Server {
    pub async fn post(&self, client: &reqwest::Client, token: &str) -> Answer {
        let response = client
            .post(format!("{}/api/~/ci/{NAME}", self.base))
            .header("content-type", "application/json")
            .header("x-github-oidc-token", token)
            .body(BODY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        Answer {
            status,
            retry_after,
            body: response.text().await.unwrap(),
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
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
}
