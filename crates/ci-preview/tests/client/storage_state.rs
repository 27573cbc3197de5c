//! `ci-preview storage-state` against the real `ci-preview-server` behind ci-fixtures' emulated
//! Vercel edge: the file a browser loads holds the flag, session and protection cookies, the
//! protection cookie opens the protected preview's pages, and no value reaches the job's log.

use ci_fixtures::protection::{COOKIE_NAME, DeploymentProtection, VercelEdge};
use ci_fixtures::{MockIssuer, ServerProcess, policy_entry};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::real_server::{SECRET, server_binary};
use crate::support::*;

/// The deployment's bypass secret: it stays in the deployment under `--protection oidc`.
pub(crate) const DEPLOYMENT_BYPASS: &str = "deployment-bypass-secret-never-in-ci-4b1d";
/// An audience only the project's Trusted Sources rule accepts.
pub(crate) const TRUSTED_SOURCES: &str = "https://vercel.com/octo-org/web/trusted-sources";
pub(crate) const PAGE: &str = "the app's home page";

pub(crate) struct Deployment {
    pub(crate) edge: VercelEdge,
    pub(crate) server: ServerProcess,
    _dir: tempfile::TempDir,
}

/// The real server with the three endpoints, its pages and CI routes behind one protected edge
/// that also serves the server's own priming request (`CI_PREVIEW_SELF_URL`).
pub(crate) async fn deployment(issuer: &MockIssuer) -> Deployment {
    let protection = DeploymentProtection::new()
        .with_bypass(DEPLOYMENT_BYPASS)
        .with_trusted_source(issuer, TRUSTED_SOURCES);
    let edge_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge_url = format!("http://{}", edge_listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ci-policy.toml");
    let audience = |name: &str| format!("https://v0.app/api/~/ci/{name}");
    let mut toml = issuer.policy_toml(ENDPOINT, &audience(ENDPOINT));
    for name in ["auth/encrypt-session", "vercel/protection-cookie"] {
        toml.push('\n');
        toml.push_str(&policy_entry(name, &audience(name)));
    }
    // The test user the session below names.
    toml.push_str("\n[endpoints.\"auth/encrypt-session\".config]\nsubjects = [\"e2e-user\"]\n");
    std::fs::write(&policy, toml).unwrap();
    let binary = tokio::task::spawn_blocking(server_binary).await.unwrap();
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy)
        .env("CI_PREVIEW_ENV", "preview")
        .env("FLAGS_SECRET", SECRET)
        .env("AUTH_SECRET", SECRET)
        .env("VERCEL_AUTOMATION_BYPASS_SECRET", DEPLOYMENT_BYPASS)
        .env("CI_PREVIEW_SELF_URL", &edge_url)
        .env("VERCEL_GIT_COMMIT_SHA", HEAD_SHA);
    let server = ServerProcess::start(command)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page = format!("http://{}", page_listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { PAGE }));
        let _ = axum::serve(page_listener, app).await;
    });
    let edge = VercelEdge::builder(protection)
        .route("/api/~/ci/", server.url())
        .upstream(&page)
        .start_on(edge_listener);
    Deployment {
        edge,
        server,
        _dir: dir,
    }
}

pub(crate) fn cookie<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} cookie in {state}"))
}

#[tokio::test]
async fn oidc_writes_flags_session_and_protection_cookies_with_no_secret_in_ci() {
    let (issuer, github) = mocks().await;
    let deployment = deployment(&issuer).await;
    let dir = tempfile::tempdir().unwrap();
    let flags_file = dir.path().join("flags.json");
    std::fs::write(&flags_file, r#"{"fromFile": [1, 2]}"#).unwrap();
    let from_file = format!("@{}", flags_file.display());
    let run = Client::new(&[
        "storage-state",
        "--url",
        deployment.edge.url(),
        "--flag",
        "newCheckout=true",
        "--flag",
        "limit=3",
        "--flag",
        &from_file,
        "--session",
        r#"{"sub":"e2e-user","name":"E2E"}"#,
        "--expires-in",
        "30m",
        "--protection",
        "oidc",
        "--protection-audience",
        TRUSTED_SOURCES,
    ])
    .github(&github)
    .in_actions()
    .env("RUNNER_TEMP", dir.path())
    .run()
    .await;
    run.assert_success();
    let path = dir.path().join("ci-preview-storage-state.json");
    assert_eq!(run.stdout, format!("{}\n", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(state["cookies"].as_array().unwrap().len(), 3, "{state}");
    let host = "127.0.0.1";
    let overrides = cookie(&state, "vercel-flag-overrides");
    let session = cookie(&state, "authjs.session-token");
    let protection = cookie(&state, COOKIE_NAME);
    for c in [overrides, session, protection] {
        assert_eq!(c["domain"], host, "{c}");
        let expires = c["expires"].as_i64().unwrap();
        assert!(expires > unix_now(), "{c}");
    }
    for c in [overrides, session] {
        let expires = c["expires"].as_i64().unwrap();
        assert!(expires <= unix_now() + 1800, "--expires-in: {c}");
    }
    assert_eq!(session["httpOnly"], true);
    assert_eq!(protection["httpOnly"], true);
    let issued = protection["value"].as_str().unwrap();
    assert_eq!(
        deployment
            .edge
            .protection()
            .cookie_for(deployment.edge.host()),
        Some(issued.to_owned()),
        "the cookie is the edge's own, for the preview's host"
    );

    // A browser with that file passes the protected preview on its own.
    let page = reqwest::Client::new()
        .get(deployment.edge.url())
        .header("cookie", format!("{COOKIE_NAME}={issued}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), PAGE);

    for c in [overrides, session, protection] {
        run.assert_masked_only(c["value"].as_str().unwrap());
    }
    for mint in github.mints() {
        run.assert_masked_only(&mint.token);
    }
    run.assert_never(DEPLOYMENT_BYPASS);
    assert!(!deployment.server.logs().contains(DEPLOYMENT_BYPASS));
}

#[tokio::test]
async fn bypass_primes_and_none_writes_no_protection_cookie() {
    let (issuer, github) = mocks().await;
    let deployment = deployment(&issuer).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("state/bypass.json");
    let out_arg = format!("--out={}", out.display());
    let run = Client::new(&["storage-state", "--flag", "a=1", &out_arg])
        .env("PREVIEW_URL", deployment.edge.url())
        .github(&github)
        .env("CI_PREVIEW_PROTECTION", "bypass")
        .env("VERCEL_AUTOMATION_BYPASS_SECRET", DEPLOYMENT_BYPASS)
        .in_actions()
        .run()
        .await;
    run.assert_success();
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names: Vec<&str> = state["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["vercel-flag-overrides", COOKIE_NAME]);
    run.assert_never(DEPLOYMENT_BYPASS);
    run.assert_masked_only(cookie(&state, COOKIE_NAME)["value"].as_str().unwrap());

    // `none` against an unprotected stand-in: only what was asked for.
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let out = dir.path().join("none.json");
    let out_arg = format!("--out={}", out.display());
    let run = Client::new(&[
        "storage-state",
        "--flag",
        "a=1",
        "--protection",
        "none",
        &out_arg,
    ])
    .env("PREVIEW_URL", &preview.url)
    .github(&github)
    .run()
    .await;
    run.assert_success();
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(state["cookies"].as_array().unwrap().len(), 1, "{state}");
}

#[tokio::test]
async fn refusals_are_clear_and_exit_2_before_any_request() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let out_arg = format!("--out={}", dir.path().join("s.json").display());
    for (args, says) in [
        (&["--protection", "none"][..], "nothing to write"),
        (&["--flag", "novalue"], "NAME=VALUE"),
        (
            &["--session", r#"["hunter2"]"#],
            "--session is not a JSON object",
        ),
        (&["--flag", "a=1", "--expires-in", "0s"], "at least 1s"),
        (&["--flag", "a=1", "--protection", "bypass"], "bypass"),
        (&["--flag", "a=1"], "RUNNER_TEMP"),
    ] {
        let mut all = vec!["storage-state", "--url", &preview.url];
        all.extend_from_slice(args);
        if says != "RUNNER_TEMP" {
            all.push(&out_arg);
        }
        let run = Client::new(&all).github(&github).run().await;
        run.assert_exit(2, &[says]);
        run.assert_never("hunter2");
    }
    assert!(preview.calls().is_empty());
    assert!(github.mints().is_empty());
}

#[tokio::test]
async fn auto_asks_for_the_protection_cookie_only_once_the_edge_asked_for_a_token() {
    let (issuer, github) = mocks().await;
    let deployment = deployment(&issuer).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("auto.json");
    let out_arg = format!("--out={}", out.display());
    let run = Client::new(&[
        "storage-state",
        "--url",
        deployment.edge.url(),
        "--session",
        r#"{"sub":"e2e-user"}"#,
        &out_arg,
    ])
    .github(&github)
    .env("CI_PREVIEW_PROTECTION_AUDIENCE", TRUSTED_SOURCES)
    .run()
    .await;
    run.assert_success();
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names: Vec<&str> = state["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["authjs.session-token", COOKIE_NAME]);

    // Unprotected: `auto` mints no protection token and asks for no protection cookie.
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let (_issuer, github) = mocks().await;
    let run = Client::new(&[
        "storage-state",
        "--url",
        &preview.url,
        "--flag",
        "a=1",
        &out_arg,
    ])
    .github(&github)
    .env("CI_PREVIEW_PROTECTION_AUDIENCE", TRUSTED_SOURCES)
    .run()
    .await;
    run.assert_success();
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(state["cookies"].as_array().unwrap().len(), 1, "{state}");
    let audiences: Vec<String> = github.mints().into_iter().map(|m| m.audience).collect();
    assert_eq!(audiences, [AUDIENCE]);
}
