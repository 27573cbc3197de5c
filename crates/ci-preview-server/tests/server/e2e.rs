//! The real `ci-preview-server` binary, started as a process with the mock issuer and reached
//! over real HTTP: the ready line, keys fetched before it, the contract's answers, health, exit
//! codes for each kind of failure, shutdown on SIGTERM/SIGINT, and no token or secret in its logs.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use ci_fixtures::{DEFAULT_SHA, MockIssuer, NotReady, ServerProcess, get_http, post_http};
use serde_json::{Value, json};
use tokio::process::Command;

const NAME: &str = "flags/encrypt-override";
const AUDIENCE: &str = "https://preview.test/api/~/ci/flags/encrypt-override";
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

/// The running binary and the folder holding its policy.
struct Server {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

fn write_policy(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("ci-policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the binary with exactly `env` (the test machine's own variables are cleared), the
/// policy and `files` written to a fresh folder.
async fn start(
    policy: &str,
    env: &[(&str, &str)],
    extra_args: &[&str],
    files: &[(&str, String)],
) -> Result<Server, NotReady> {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let policy_path = write_policy(dir.path(), policy);
    let mut command = Command::new(env!("CARGO_BIN_EXE_ci-preview-server"));
    command
        .env_clear()
        .env("RUST_LOG", "trace")
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy_path)
        .args(extra_args)
        .envs(env.iter().copied());
    let process = ServerProcess::start(command).await?;
    Ok(Server { process, _dir: dir })
}

async fn start_ready(
    policy: &str,
    env: &[(&str, &str)],
    extra_args: &[&str],
    files: &[(&str, String)],
) -> Server {
    start(policy, env, extra_args, files)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn start_failing(policy: &str, env: &[(&str, &str)]) -> (i32, String) {
    match start(policy, env, &[], &[]).await {
        Ok(server) => panic!("server started at {}", server.process.url()),
        Err(NotReady { code, logs }) => (code.expect("exits within 30 s"), logs),
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.url())
    }

    async fn post(&self, token: Option<&str>, body: &str) -> (u16, String) {
        let url = self.url("/api/~/ci/flags/encrypt-override");
        post_http(&reqwest::Client::new(), &url, token, body.to_owned()).await
    }

    async fn get(&self, path: &str) -> (u16, String) {
        get_http(&self.url(path)).await
    }

    /// Sends `signal` and waits for the exit code, which must come within 5 s.
    async fn stop_with(self, signal: &str) -> (i32, Duration, String) {
        let stopped = self.process.stop(signal, Duration::from_secs(5)).await;
        assert!(
            !stopped.logs.contains("no exit within"),
            "exits within 5 s of the signal"
        );
        assert!(
            stopped.extra_stdout.is_empty(),
            "stdout holds only the ready line"
        );
        (stopped.code, stopped.elapsed, stopped.logs)
    }
}

fn preview_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CI_PREVIEW_ENV", "preview"),
        ("FLAGS_SECRET", SECRET),
        ("VERCEL_GIT_COMMIT_SHA", DEFAULT_SHA),
        ("VERCEL_GIT_COMMIT_REF", "feature/ci"),
        ("VERCEL_GIT_PULL_REQUEST_ID", "12"),
    ]
}

#[tokio::test]
async fn serves_the_contract_over_http_and_stops_on_sigterm() {
    let issuer = MockIssuer::start().await;
    let policy = issuer.policy_toml(NAME, AUDIENCE);
    let server = start_ready(&policy, &preview_env(), &[], &[]).await;
    // Keys were fetched before the ready line: the first request pays nothing.
    assert!(issuer.jwks_requests() >= 1);
    let fetched_at_start = issuer.jwks_requests();

    let (status, body) = server.get("/api/~/ci/health").await;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["environment"], "preview");
    assert_eq!(health["commit"], DEFAULT_SHA);
    assert_eq!(health["ref"], "feature/ci");
    assert_eq!(health["pull_request"], "12");
    assert_eq!(health["policy_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        health["endpoints"],
        json!([{"name": NAME, "path": "/api/~/ci/flags/encrypt-override", "audience": AUDIENCE, "ready": true}])
    );

    let token = issuer.token(AUDIENCE).build();
    let (status, body) = server
        .post(Some(&token), r#"{"flags":{"ciInPreviewSmoke":true}}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let cookie = serde_json::from_str::<Value>(&body).unwrap()["cookie"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = encrypt_override::FlagsSecret::parse(SECRET).unwrap();
    assert_eq!(
        encrypt_override::decrypt(&cookie, &secret).unwrap(),
        json!({"ciInPreviewSmoke": true})
    );
    assert_eq!(
        issuer.jwks_requests(),
        fetched_at_start,
        "no fetch on the request path"
    );

    let wrong_repo = issuer
        .token(AUDIENCE)
        .claim("repository", "someone/else")
        .build();
    let refusals = [
        (
            server.post(None, "{}").await,
            401,
            r#"{"error":"unauthorized"}"#,
        ),
        (
            server.post(Some(&wrong_repo), "{}").await,
            403,
            r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
        ),
        (
            server.post(Some(&token), r#"{"flags":[]}"#).await,
            400,
            r#"{"error":"bad_request"}"#,
        ),
        (
            server.post(Some("x.y.z"), "{}").await,
            401,
            r#"{"error":"unauthorized"}"#,
        ),
    ];
    for ((status, body), want_status, want_body) in refusals {
        assert_eq!((status, body.as_str()), (want_status, want_body));
    }

    let (code, elapsed, logs) = server.stop_with("-TERM").await;
    assert_eq!(code, 0, "{logs}");
    assert!(elapsed < Duration::from_secs(2), "stopped in {elapsed:?}");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("request refused"));
    for secret in [token.as_str(), wrong_repo.as_str(), SECRET, cookie.as_str()] {
        assert!(
            !logs.contains(secret),
            "a token, the secret or the cookie reached the logs"
        );
        for part in secret.split('.').filter(|p| p.len() >= 16) {
            assert!(
                !logs.contains(part),
                "part of a token or the cookie reached the logs"
            );
        }
    }
}

#[tokio::test]
async fn production_serves_nothing_and_fetches_nothing() {
    let issuer = MockIssuer::start().await;
    let policy = issuer.policy_toml(NAME, AUDIENCE);
    for env in [
        vec![("VERCEL_ENV", "production")],
        vec![],
        vec![("CI_PREVIEW_ENV", "staging"), ("VERCEL_ENV", "preview")],
    ] {
        let server = start_ready(&policy, &env, &[], &[]).await;
        let token = issuer.token(AUDIENCE).build();
        assert_eq!(
            server.post(Some(&token), r#"{"flags":{}}"#).await,
            (404, "Not Found".to_owned())
        );
        assert_eq!(
            server.get("/api/~/ci/health").await,
            (404, "Not Found".to_owned())
        );
        let (code, _, logs) = server.stop_with("-INT").await;
        assert_eq!(code, 0, "{logs}");
    }
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn configuration_errors_exit_2_naming_the_problem() {
    let issuer = MockIssuer::start().await;
    let policy = issuer.policy_toml(NAME, AUDIENCE);

    let empty_workflows = policy.replace(
        "workflows = [\"octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml\"]",
        "workflows = []",
    );
    let (code, logs) = start_failing(&empty_workflows, &preview_env()).await;
    assert_eq!(code, 2, "{logs}");
    assert!(
        logs.contains(r#"endpoints.\"flags/encrypt-override\".workflows: must not be empty"#)
            || logs.contains(r#"endpoints."flags/encrypt-override".workflows: must not be empty"#),
        "{logs}"
    );

    let other_endpoint = policy.replace(NAME, "flags/other");
    let (code, logs) = start_failing(&other_endpoint, &preview_env()).await;
    assert_eq!(code, 2, "{logs}");
    assert!(logs.contains("flags/encrypt-override"), "{logs}");

    let malformed = "not-a-32-byte-key-but-a-secret-value";
    let mut env = preview_env();
    env.retain(|(k, _)| *k != "FLAGS_SECRET");
    env.push(("FLAGS_SECRET", malformed));
    let (code, logs) = start_failing(&policy, &env).await;
    assert_eq!(code, 2, "{logs}");
    assert!(logs.contains("FLAGS_SECRET"), "{logs}");
    assert!(!logs.contains(malformed), "the malformed secret was logged");

    // Without --listen, a PORT that is not a number is a configuration error.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ci-preview-server"))
        .env_clear()
        .env("PORT", "http")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ci-preview-server"))
        .env_clear()
        .args(["--log-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn keys_unreachable_at_start_up_exit_1() {
    let issuer = MockIssuer::start().await;
    issuer.set_fault(ci_fixtures::JwksFault::Status(500));
    let (code, logs) = start_failing(&issuer.policy_toml(NAME, AUDIENCE), &preview_env()).await;
    assert_eq!(code, 1, "{logs}");
    assert!(logs.contains("fail closed"), "{logs}");
}

#[tokio::test]
async fn static_keys_next_to_the_policy_and_json_logs() {
    let issuer = MockIssuer::start().await;
    let policy =
        issuer
            .policy_toml(NAME, AUDIENCE)
            .replacen("\n\n", "\njwks_file = \"jwks.json\"\n\n", 1);
    let started = Instant::now();
    let server = start_ready(
        &policy,
        &preview_env(),
        &["--log-format", "json"],
        &[("jwks.json", issuer.jwks_json())],
    )
    .await;
    let token = issuer.token(AUDIENCE).build();
    let (status, body) = server.post(Some(&token), r#"{"flags":{"a":1}}"#).await;
    let first_ok = started.elapsed();
    assert_eq!(status, 200, "{body}");
    eprintln!("exec -> first verified 200: {first_ok:?} (debug build)");
    assert_eq!(
        issuer.jwks_requests() + issuer.discovery_requests(),
        0,
        "static keys: no fetching"
    );
    let (code, _, logs) = server.stop_with("-TERM").await;
    assert_eq!(code, 0);
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
}
