//! The client against the real `ci-preview-server` binary (not the stand-in): the contract
//! between the two ends (health JSON, audience, status codes, the cookie) checked end to end,
//! with tokens from the mock GitHub signed by the mock issuer the server trusts.

use std::process::Stdio;
use std::sync::OnceLock;

use ci_fixtures::github::MockGitHub;
use ci_fixtures::{MockIssuer, ServerProcess};

use crate::support::*;

pub(crate) const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

/// Builds the server (a no-op when it is fresh) and returns its path, from cargo's own report,
/// so a stale binary left in target/ is never what runs.
pub(crate) fn server_binary() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let output = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args([
                "build",
                "--quiet",
                "-p",
                "ci-preview-server",
                "--message-format=json",
                "--manifest-path",
                manifest,
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building ci-preview-server failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["target"]["name"] == "ci-preview-server")
            .find_map(|msg| msg["executable"].as_str().map(str::to_owned))
            .expect("cargo reported the ci-preview-server executable")
    })
}

struct Server {
    url: String,
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

async fn start_server(issuer: &MockIssuer, environment: &str) -> Server {
    let binary = tokio::task::spawn_blocking(server_binary).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ci-policy.toml");
    std::fs::write(&policy, issuer.policy_toml(ENDPOINT, AUDIENCE)).unwrap();
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy)
        .env("CI_PREVIEW_ENV", environment)
        .env("FLAGS_SECRET", SECRET)
        .env("VERCEL_GIT_COMMIT_SHA", HEAD_SHA);
    let process = ServerProcess::start(command)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Server {
        url: process.url().to_owned(),
        _process: process,
        _dir: dir,
    }
}

async fn setup(environment: &str) -> (MockIssuer, MockGitHub, Server) {
    let (issuer, github) = mocks().await;
    let server = start_server(&issuer, environment).await;
    (issuer, github, server)
}

#[tokio::test]
async fn smoke_passes_and_the_cookie_decrypts_with_the_preview_secret() {
    let (_issuer, github, server) = setup("preview").await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let run = Client::new(&["smoke", "--timeout", "30s"])
        .github(&github)
        .in_actions()
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .env("PREVIEW_URL", &server.url)
        .env("GITHUB_OUTPUT", &output)
        .run()
        .await;
    run.assert_success();
    let cookie = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .find(|v| v.starts_with(FLAGS_HEADER))
        .expect("the cookie was masked")
        .to_owned();
    let secret = encrypt_override::FlagsSecret::parse(SECRET).unwrap();
    let flags =
        encrypt_override::decrypt_overrides(&cookie, &secret, unix_now()).expect("decrypts");
    assert_eq!(flags, serde_json::json!({"ciInPreviewSmoke": true}));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        format!(
            "preview-url={}\ncookie-length={}\n",
            server.url,
            cookie.len()
        )
    );
    run.assert_masked_only(&cookie);
    let endpoint_mints: Vec<_> = github
        .mints()
        .into_iter()
        .filter(|m| m.audience != PROTECTION_AUDIENCE)
        .collect();
    assert_eq!(endpoint_mints.len(), 1);
    assert_eq!(
        endpoint_mints[0].audience, AUDIENCE,
        "the audience came from the server's health"
    );
}

#[tokio::test]
async fn refusals_are_explained() {
    let (_issuer, github, server) = setup("preview").await;
    let call = |extra: &[&str]| {
        let mut args = vec![
            "call",
            ENDPOINT,
            "--url",
            server.url.as_str(),
            "--data",
            r#"{"flags":{"a":1}}"#,
        ];
        args.extend_from_slice(extra);
        Client::new(&args).github(&github)
    };
    let run = call(&["--audience", "https://github.com/another-org"])
        .run()
        .await;
    run.assert_exit(1, &[]);
    assert!(
        run.stderr.contains("HTTP 401") && run.stderr.contains("audience mismatch"),
        "{}",
        run.stderr
    );

    github.customize_tokens(|token| token.claim("repository", "someone-else/fork"));
    let run = call(&[]).run().await;
    run.assert_exit(1, &["HTTP 403 repo_mismatch"]);

    github.customize_tokens(|token| {
        token.workflow("octo-org/octo-repo/.github/workflows/unlisted.yaml")
    });
    let run = call(&[]).run().await;
    run.assert_exit(1, &["workflow not allowlisted"]);

    github.customize_tokens(|token| token);
    let run = Client::new(&[
        "call",
        ENDPOINT,
        "--url",
        &server.url,
        "--data",
        r#"{"flags":[1]}"#,
    ])
    .github(&github)
    .run()
    .await;
    run.assert_exit(1, &["HTTP 400"]);
}

#[tokio::test]
async fn production_has_no_ci_routes() {
    let (_issuer, github, server) = setup("production").await;
    let run = Client::new(&["wait", "--url", &server.url, "--timeout", "1s"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(1, &["404: no CI routes here"]);
}
