//! The client's perimeter against hostile previews and hostile deploy integrations: secrets and
//! tokens go only to the project's own previews, network text cannot steer the job log or the
//! summary, and a preview cannot choose the token's audience or collect tokens by failing.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_later_deployment_by_another_integration_gets_nothing() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let real = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let hostile = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    github.add_pull_request(12, HEAD_SHA);
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "success", Some(&real.url), None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Any GitHub App with `deployments: write` can deploy the same commit, later.
    let evil = github.add_deployment_by(HEAD_SHA, "Preview", "evil-deployer[bot]");
    github.add_deployment_status(evil, "success", Some(&hostile.url), None);
    let run = Client::new(&["smoke", "--timeout", "20s"])
        .github(&github)
        .in_actions()
        .allow_loopback()
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_success();
    assert!(
        hostile.state().health_bypass.is_empty(),
        "nothing reached the other deployment"
    );
    assert!(hostile.calls().is_empty());
    assert_eq!(real.calls().len(), 1);
    run.assert_stderr_has(&["not created by vercel[bot]"]);
    run.assert_never(BYPASS);
}

/// The review's finding: any app with `deployments: write` could post a newer `success` with its
/// own URL on `vercel[bot]`'s deployment, and the client sent the bypass secret and a token there.
#[tokio::test]
async fn a_newer_status_by_another_integration_on_the_bots_deployment_gets_nothing() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let real = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let hostile = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    github.add_pull_request(12, HEAD_SHA);
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "success", Some(&real.url), None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Another login, and the bot's login through another app: both ignored.
    github.add_deployment_status_by(id, "success", Some(&hostile.url), "evil[bot]", Some("evil"));
    github.add_deployment_status_by(
        id,
        "success",
        Some(&hostile.url),
        "vercel[bot]",
        Some("evil"),
    );
    let run = Client::new(&["smoke", "--timeout", "20s"])
        .github(&github)
        .in_actions()
        .allow_loopback()
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_success();
    assert!(
        hostile.state().health_bypass.is_empty(),
        "nothing reached the other URL"
    );
    assert!(hostile.calls().is_empty());
    assert_eq!(real.calls().len(), 1);
    run.assert_stderr_has(&["ignoring 2 status(es)"]);
    run.assert_never(BYPASS);
}

/// The same finding through the `deployment_status` event: the deployment is the bot's, the
/// status (with the URL) is not.
#[tokio::test]
async fn a_deployment_status_event_whose_status_another_integration_posted_is_not_used() {
    let hostile = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    for status_by in [json!({"login": "evil[bot]"}), json!(null)] {
        let payload = json!({
            "deployment_status": {"state": "success", "environment": "Preview",
                                  "environment_url": hostile.url, "creator": status_by},
            "deployment": {"sha": HEAD_SHA, "environment": "Preview",
                           "creator": {"login": "vercel[bot]"}}
        });
        std::fs::write(&path, payload.to_string()).unwrap();
        let run = Client::new(&["discover", "--timeout", "1s"])
            .allow_loopback()
            .env("GITHUB_EVENT_PATH", &path)
            .env("GITHUB_EVENT_NAME", "deployment_status")
            .env("GITHUB_REPOSITORY", ci_fixtures::DEFAULT_REPOSITORY)
            .env("GITHUB_API_URL", "http://127.0.0.1:9")
            .run()
            .await;
        assert_ne!(run.code, 0);
        assert!(run.stdout.is_empty(), "no URL printed: {}", run.stdout);
        run.assert_stderr_has(&["status was posted by"]);
    }
    // The bot's own status through its own app is used.
    let payload = json!({
        "deployment_status": {"state": "success", "environment": "Preview",
                              "environment_url": hostile.url,
                              "creator": {"login": "vercel[bot]"},
                              "performed_via_github_app": {"slug": "vercel"}},
        "deployment": {"sha": HEAD_SHA, "environment": "Preview", "creator": {"login": "vercel[bot]"}}
    });
    std::fs::write(&path, payload.to_string()).unwrap();
    let run = Client::new(&["discover", "--timeout", "1s"])
        .allow_loopback()
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_EVENT_NAME", "deployment_status")
        .env("GITHUB_REPOSITORY", ci_fixtures::DEFAULT_REPOSITORY)
        .run()
        .await;
    run.assert_success();
    assert_eq!(run.stdout.trim(), hostile.url);
}

#[tokio::test]
async fn a_discovered_host_off_the_allowlist_is_refused_before_any_request() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let hostile = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    github.add_pull_request(12, HEAD_SHA);
    let id = github.add_deployment(HEAD_SHA, "Preview");
    let url = hostile.url.replace("127.0.0.1", "localhost");
    github.add_deployment_status(id, "success", Some(&url), None);
    for extra in [&[][..], &["--allow-host", "127.0.0.1"]] {
        let mut args = vec!["smoke", "--timeout", "20s"];
        args.extend_from_slice(extra);
        let run = Client::new(&args)
            .github(&github)
            .pull_request_event(dir.path(), 12, HEAD_SHA)
            .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
            .run()
            .await;
        run.assert_exit(
            2,
            &[
                "--allow-host localhost",
                "not on the allowlist (*.vercel.app",
            ],
        );
        run.assert_never(BYPASS);
    }
    assert!(hostile.state().health_bypass.is_empty());
    assert!(hostile.calls().is_empty());
    assert_eq!(github.mint_count(), 0, "no token was minted");

    // The same host given explicitly is the user's choice.
    let run = Client::new(&["smoke", "--timeout", "20s"])
        .github(&github)
        .env("PREVIEW_URL", &url)
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_success();
}

#[tokio::test]
async fn a_deployment_status_event_by_another_creator_is_not_used() {
    let hostile = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let payload = json!({
        "deployment_status": {"state": "success", "environment": "Preview", "target_url": hostile.url},
        "deployment": {"sha": HEAD_SHA, "environment": "Preview", "creator": {"login": "evil[bot]"}}
    });
    std::fs::write(&path, payload.to_string()).unwrap();
    let run = Client::new(&["discover", "--timeout", "1s"])
        .allow_loopback()
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_EVENT_NAME", "deployment_status")
        .env("GITHUB_REPOSITORY", ci_fixtures::DEFAULT_REPOSITORY)
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .run()
        .await;
    assert_ne!(run.code, 0);
    assert!(run.stdout.is_empty(), "no URL printed: {}", run.stdout);
    assert!(
        run.stderr
            .contains("a deployment by evil[bot], not vercel[bot]"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn health_cannot_inject_workflow_commands_or_markdown() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    preview.state().environment =
        "preview\n::stop-commands::pwned\n::warning::injected <img src=x onerror=alert(1)> [x](https://evil)"
            .to_owned();
    let run = Client::new(&["smoke", "--timeout", "20s"])
        .github(&github)
        .in_actions()
        .env("PREVIEW_URL", &preview.url)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_success();
    run.assert_no_injected_commands();
    let token = github.mints()[0].token.clone();
    run.assert_masked_only(&token);
    run.assert_stderr_has(&["preview\\u{a}::stop-commands::pwned"]);
    let summary = std::fs::read_to_string(&summary).unwrap();
    for bad in ["<img", "](", "\n::"] {
        assert!(!summary.contains(bad), "{bad} in {summary}");
    }

    // A commit that is not a full SHA is not one: the wait cannot be fooled, nor the log.
    preview.set_health(HealthMode::Serving(format!(
        "{HEAD_SHA}\n::stop-commands::x"
    )));
    let run = Client::new(&[
        "wait",
        "--url",
        &preview.url,
        "--sha",
        HEAD_SHA,
        "--timeout",
        "1s",
    ])
    .in_actions()
    .run()
    .await;
    run.assert_exit(1, &["reports no commit"]);
    run.assert_no_injected_commands();
}

#[tokio::test]
async fn health_cannot_choose_the_audience() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let call = |extra: &[&str]| {
        let mut args = vec!["call", ENDPOINT, "--url", &preview.url, "--data", "{}"];
        args.extend_from_slice(extra);
        Client::new(&args)
            .github(&github)
            .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
    };
    for announced in [
        "sts.amazonaws.com",
        "https://v0.app/api/~/ci/auth/encrypt-session",
        "http://v0.app/api/~/ci/flags/encrypt-override",
    ] {
        preview.state().audience = announced.to_owned();
        let run = call(&[]).run().await;
        run.assert_exit(1, &[]);
        assert!(
            run.stderr
                .contains("refusing to mint a token for the audience"),
            "{}",
            run.stderr
        );
        run.assert_stderr_has(&["--audience"]);
    }
    assert_eq!(github.mint_count(), 0, "no token for another service");
    assert!(preview.calls().is_empty());

    // The same endpoint of another app: a token the preview could replay there. Refused unless
    // its host is the preview's own or one the user allowed.
    preview.state().audience = "https://other-app.example/api/~/ci/flags/encrypt-override".into();
    let run = call(&[]).run().await;
    run.assert_exit(1, &["--allow-host other-app.example"]);
    assert_eq!(
        github.mint_count(),
        0,
        "no token for another app's endpoint"
    );
    let own = format!("{}/api/~/ci/flags/encrypt-override", preview.url);
    preview.state().audience = own.replace("http://", "https://");
    let run = call(&[]).run().await;
    assert!(
        !run.stderr.contains("its host is neither"),
        "the preview's own host is accepted: {}",
        run.stderr
    );
    assert_eq!(github.mint_count(), 1);

    // A pinned audience wins over whatever health says.
    let run = call(&[]).env("CI_PREVIEW_AUDIENCE", AUDIENCE).run().await;
    run.assert_success();
    assert_eq!(github.mints().last().unwrap().audience, AUDIENCE);
}

#[tokio::test]
async fn a_failing_preview_collects_a_bounded_number_of_tokens() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    preview
        .state()
        .answers
        .extend((0..10).map(|_| (503, "{}".to_owned())));
    let run = Client::new(&["call", ENDPOINT, "--url", &preview.url, "--data", "{}"])
        .github(&github)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_exit(1, &["failed after 3 attempts"]);
    assert_eq!(preview.calls().len(), 3);
    assert_eq!(
        github.mint_count(),
        3,
        "one token per attempt, three attempts by default"
    );

    let run = Client::new(&["call", ENDPOINT, "--attempts", "6", "--data", "{}"])
        .run()
        .await;
    run.assert_exit(2, &[]);
}

#[tokio::test]
async fn token_can_go_to_github_env_instead_of_stdout() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    let run = Client::new(&[
        "token",
        "--audience",
        AUDIENCE,
        "--github-env",
        "PREVIEW_TOKEN",
    ])
    .github(&github)
    .in_actions()
    .env("GITHUB_ENV", &env_file)
    .run()
    .await;
    run.assert_success();
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    let token = github.mints()[0].token.clone();
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("PREVIEW_TOKEN={token}\n")
    );
    run.assert_masked_only(&token);

    let run = Client::new(&["token", "--audience", AUDIENCE, "--github-env", "X"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &["GITHUB_ENV is not set"]);
    assert_eq!(github.mint_count(), 1, "checked before minting");
}
