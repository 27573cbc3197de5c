//! A `ci-preview-server` process for the replay and binding tests: started with a policy and
//! environment of the test's choosing, reached over HTTP, its stderr collected for log checks.

#![allow(dead_code)]

use ci_fixtures::{MockIssuer, NotReady, ServerProcess, token::uuid};
use tokio::process::Command;

pub(crate) const NAME: &str = "flags/encrypt-override";
pub(crate) const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
pub(crate) const BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;
pub(crate) const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
pub(crate) const UNAVAILABLE: &str = r#"{"error":"unavailable"}"#;

/// A running server process; killed on drop.
pub(crate) struct Server {
    process: ServerProcess,
    pub base: String,
    _dir: tempfile::TempDir,
}

/// A fresh audience per test: its Redis keys are a namespace no other test touches.
pub(crate) fn audience(test: &str) -> String {
    format!("https://preview.test/{test}/{}/api/~/ci/{NAME}", uuid())
}

/// The mock issuer's policy for `audience`, plus `extra` keys in the endpoint's table.
pub(crate) fn policy(issuer: &MockIssuer, audience: &str, extra: &str) -> String {
    format!("{}{extra}", issuer.policy_toml(NAME, audience))
}

/// Starts the binary with exactly `env` (plus the preview basics); `Err((code, logs))` if it
/// exits before its ready line.
pub(crate) async fn start(policy: &str, env: &[(&str, &str)]) -> Result<Server, (i32, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ci-policy.toml");
    std::fs::write(&path, policy).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ci-preview-server"));
    command
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("CI_PREVIEW_ENV", "preview")
        .env("FLAGS_SECRET", SECRET)
        .envs(env.iter().copied())
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&path);
    match ServerProcess::start(command).await {
        Ok(process) => Ok(Server {
            base: process.url().to_owned(),
            process,
            _dir: dir,
        }),
        Err(NotReady { code, logs }) => Err((code.unwrap_or(-1), logs)),
    }
}

pub(crate) async fn start_ready(policy: &str, env: &[(&str, &str)]) -> Server {
    start(policy, env)
        .await
        .unwrap_or_else(|(code, logs)| panic!("server exited {code}: {logs}"))
}

/// An answer: status, `Retry-After`, body.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Server {
    pub(crate) async fn post(&self, client: &reqwest::Client, token: &str) -> Answer {
        let response = client
            .post(format!("{}/api/~/ci/{NAME}", self.base))
            .header("content-type", "application/json")
            .header(ci_endpoint::TOKEN_HEADER, token)
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

    pub(crate) fn logs(&self) -> String {
        self.process.logs()
    }

    /// The logs once `needle` appears `count` times in them, or after 5 s.
    pub(crate) async fn logs_with(&self, needle: &str, count: usize) -> String {
        self.process.logs_with(needle, count).await
    }
}
