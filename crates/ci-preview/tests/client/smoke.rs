//! `ci-preview smoke`: the whole flow, its outputs and summary, and the late-preview ordering.

use std::time::{Duration, UNIX_EPOCH};

use crate::support::*;

#[tokio::test]
async fn a_late_preview_gets_a_token_minted_after_it_is_ready() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary.md"));
    let preview = Preview::start(HealthMode::Status(404)).await;
    github.add_pull_request(12, HEAD_SHA);
    // The deployment shows up after 2 s; the URL first serves the previous commit, then the head.
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "in_progress", None, None);
    preview.set_health_after(
        Duration::from_millis(1500),
        HealthMode::Serving(OLD_SHA.into()),
    );
    preview.set_health_after(Duration::from_secs(5), HealthMode::Serving(HEAD_SHA.into()));
    let client = Client::new(&["smoke", "--timeout", "60s"])
        .github(&github)
        .in_actions()
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .allow_loopback()
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run();
    let deployed = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        github.add_deployment_status(id, "success", Some(&preview.url), None);
    };
    let (run, ()) = tokio::join!(client, deployed);
    run.assert_success();

    let healthy_since = preview.state().healthy_since.expect("the head was served");
    let mints = github.mints();
    assert_eq!(mints.len(), 1, "one token, minted for the one call");
    assert!(
        mints[0].at >= healthy_since,
        "minted after the preview served the head"
    );
    let healthy_secs = healthy_since.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(
        mints[0].issued_at >= healthy_secs,
        "iat {} before ready {healthy_secs}",
        mints[0].issued_at
    );
    assert!(mints[0].issued_at >= unix_now() - 60);
    assert_eq!(claims(&mints[0].token)["aud"], AUDIENCE);
    let calls = preview.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].at >= mints[0].at && calls[0].token == mints[0].token);

    let cookie = preview.state().cookie.clone();
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        format!(
            "preview-url={}\ncookie-length={}\n",
            preview.url,
            cookie.len()
        )
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("### ✅ ci-in-preview smoke passed"),
        "{summary}"
    );
    for row in [
        "| discover |",
        "| wait | serves `0a1b2c3d4e5f` (environment preview)",
        "| call | `flags/encrypt-override` answered 200 (1 attempt)",
        "| cookie | compact JWE, dir + A256GCM",
    ] {
        assert!(summary.contains(row), "{row} missing from {summary}");
    }
    assert!(!summary.contains(&cookie));
    run.assert_stderr_has(&[&format!("::add-mask::{cookie}")]);
    run.assert_masked_only(&cookie);
    run.assert_masked_only(&mints[0].token);
    run.assert_never(BYPASS);
    run.assert_stderr_has(&["stale alias"]);
}

#[tokio::test]
async fn a_malformed_cookie_fails_and_the_summary_says_where() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary.md"));
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let bad = "eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.a2V5.aXZpdml2aXZpdml2.Y3Q.dGFndGFndGFndGFndGFn".to_owned();
    preview.state().cookie = bad.clone();
    let run = Client::new(&["smoke", "--timeout", "20s"])
        .github(&github)
        .in_actions()
        .env("PREVIEW_URL", &preview.url)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .run()
        .await;
    run.assert_exit(
        1,
        &[
            "the cookie is not a well-formed JWE",
            "alg A256KW / enc A256GCM",
        ],
    );
    run.assert_masked_only(&bad);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        format!("preview-url={}\n", preview.url)
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("### ❌ ci-in-preview smoke failed"),
        "{summary}"
    );
    assert!(
        summary.contains("| cookie | **failed:** the cookie is not a well-formed JWE"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_job_without_id_token_permission_stops_before_discovery() {
    let (_issuer, github) = mocks().await;
    github.add_pull_request(12, HEAD_SHA);
    let run = Client::new(&["smoke", "--pr", "12"])
        .env("GITHUB_API_URL", github.api_url())
        .env("GITHUB_REPOSITORY", ci_fixtures::DEFAULT_REPOSITORY)
        .run()
        .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("add `permissions: id-token: write` to the job"),
        "{}",
        run.stderr
    );
    assert!(github.api_requests().is_empty());
}
