//! `ci-preview call`: audience from health, a fresh token per attempt, retries, and explanations.

use crate::support::*;

const DATA: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

fn call(preview: &Preview, extra: &[&str]) -> Client {
    let mut args = vec!["call", ENDPOINT, "--url", &preview.url, "--data", DATA];
    args.extend_from_slice(extra);
    Client::new(&args).env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
}

#[tokio::test]
async fn learns_the_audience_and_prints_the_masked_answer() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let run = call(&preview, &[]).github(&github).in_actions().run().await;
    run.assert_success();
    let cookie = preview.state().cookie.clone();
    let answer: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answer["cookie"], cookie.as_str());
    assert_eq!(run.stdout.lines().count(), 1);
    run.assert_stderr_has(&[&format!("::add-mask::{cookie}")]);
    let mints = github.mints();
    assert_eq!(mints.len(), 1);
    assert_eq!(mints[0].audience, AUDIENCE, "audience from health");
    let calls = preview.calls();
    assert_eq!(calls[0].token, mints[0].token);
    assert_eq!(calls[0].bypass.as_deref(), Some(BYPASS));
    assert_eq!(
        calls[0].body,
        serde_json::json!({"flags": {"ciInPreviewSmoke": true}})
    );
    run.assert_masked_only(&mints[0].token);
    run.assert_never(BYPASS);
}

/// The review's finding: a rotation inside the endpoint's armed refetch cooldown answers 503 with
/// `Retry-After`, and the client gave up after its 1 s and 2 s backoff. It now waits as asked.
#[tokio::test]
async fn a_503_retry_after_is_waited_for() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    {
        let mut state = preview.state();
        state.retry_after = Some(4);
        state
            .answers
            .push_back((503, r#"{"error":"unavailable"}"#.to_owned()));
    }
    let run = call(&preview, &[]).github(&github).run().await;
    run.assert_success();
    let calls = preview.calls();
    assert_eq!(calls.len(), 2);
    let waited = calls[1].at.duration_since(calls[0].at).unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(3900),
        "retried after {waited:?}, not the 4 s Retry-After"
    );
    run.assert_stderr_has(&["Retry-After: 4 s"]);
}

#[tokio::test]
async fn retries_5xx_with_a_fresh_token_each_time() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    preview
        .state()
        .answers
        .extend([(502, "bad gateway".to_owned()), (503, "{}".to_owned())]);
    let run = call(&preview, &[]).github(&github).run().await;
    run.assert_success();
    let calls = preview.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(github.mint_count(), 3, "one mint per attempt");
    let jtis: std::collections::HashSet<_> = calls
        .iter()
        .map(|c| claims(&c.token)["jti"].to_string())
        .collect();
    assert_eq!(jtis.len(), 3, "every attempt carried a different token");
    run.assert_stderr_has(&["retrying in"]);

    preview
        .state()
        .answers
        .extend((0..2).map(|_| (500, "{}".to_owned())));
    let run = call(&preview, &["--attempts", "2"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(1, &["failed after 2 attempts"]);
}

#[tokio::test]
async fn never_retries_a_4xx_and_explains_it() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let cases = [
        (
            403,
            r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
            "is not in the endpoint's `repositories` in ci-policy.toml",
        ),
        (404, "Not Found", "this deployment does not serve it"),
        (
            400,
            r#"{"error":"bad_request","reason":"cookie_too_large"}"#,
            "over 4096 bytes",
        ),
        (413, r#"{"error":"payload_too_large"}"#, "too large"),
        (500, r#"{"error":"misconfigured"}"#, "its secret is not set"),
    ];
    for (status, body, expected) in cases {
        let before = preview.calls().len();
        preview.state().answers.push_back((status, body.to_owned()));
        let run = call(&preview, &[])
            .github(&github)
            .env("GITHUB_REPOSITORY", "octo-org/octo-repo")
            .run()
            .await;
        run.assert_exit(1, &[expected]);
        assert_eq!(
            preview.calls().len(),
            before + 1,
            "HTTP {status} is not retried"
        );
    }
}

#[tokio::test]
async fn a_401_names_audience_workflow_and_event() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let run = call(&preview, &["--audience", "https://github.com/octo-org"])
        .github(&github)
        .env(
            "GITHUB_WORKFLOW_REF",
            "octo-org/octo-repo/.github/workflows/other.yaml@refs/pull/12/merge",
        )
        .env("GITHUB_EVENT_NAME", "pull_request_target")
        .run()
        .await;
    run.assert_exit(1, &[]);
    assert_eq!(preview.calls().len(), 1);
    for expected in [
        "refused the token (HTTP 401 unauthorized)",
        "audience mismatch: the token was minted for \"https://github.com/octo-org\"",
        "add \"octo-org/octo-repo/.github/workflows/other.yaml\" to the endpoint's `workflows`",
        "this run's event is pull_request_target",
    ] {
        run.assert_stderr_has(&[expected]);
    }
}

#[tokio::test]
async fn health_decides_whether_the_endpoint_can_be_called() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    preview.state().ready = false;
    let run = call(&preview, &[]).github(&github).run().await;
    run.assert_exit(1, &["is not ready"]);
    let run = Client::new(&["call", "flags/other", "--url", &preview.url, "--data", "{}"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(1, &["health lists: flags/encrypt-override"]);
    preview.set_health(HealthMode::Status(404));
    let run = call(&preview, &[]).github(&github).run().await;
    run.assert_exit(1, &["no CI routes here"]);
    assert!(preview.calls().is_empty());
    assert!(
        github
            .mints()
            .iter()
            .all(|m| m.audience == PROTECTION_AUDIENCE),
        "no endpoint token is minted for a call that cannot happen"
    );
}

#[tokio::test]
async fn configuration_is_checked_before_any_request() {
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let run = call(&preview, &[]).run().await;
    run.assert_exit(
        2,
        &["ACTIONS_ID_TOKEN_REQUEST_URL is not set: add `permissions: id-token: write`"],
    );
    assert!(preview.state().health_bypass.is_empty(), "nothing was sent");
    let (_issuer, github) = mocks().await;
    let run = Client::new(&["call", ENDPOINT, "--url", &preview.url, "--data", "{flags"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &["--data is not valid JSON"]);
}
