//! `ci-preview token`: masking, the request the runner expects, and the missing-permission errors.

use crate::support::*;

#[tokio::test]
async fn masks_first_then_prints_only_the_token() {
    let (_issuer, github) = mocks().await;
    let run = Client::new(&["token", "--audience", AUDIENCE])
        .github(&github)
        .in_actions()
        .run()
        .await;
    run.assert_success();
    let mints = github.mints();
    assert_eq!(mints.len(), 1);
    assert_eq!(
        mints[0].audience, AUDIENCE,
        "the audience is URL-encoded and decoded intact"
    );
    let token = &mints[0].token;
    assert_eq!(
        run.stdout,
        format!("{token}\n"),
        "stdout is exactly the token, so $(...) captures it"
    );
    assert_eq!(
        run.stderr.lines().next(),
        Some(format!("::add-mask::{token}").as_str())
    );
    assert_eq!(claims(token)["aud"], AUDIENCE);
}

#[tokio::test]
async fn outside_actions_there_is_nothing_to_mask() {
    let (_issuer, github) = mocks().await;
    let run = Client::new(&["token", "--audience", "sts.amazonaws.com"])
        .github(&github)
        .run()
        .await;
    run.assert_success();
    assert!(!run.stderr.contains("::add-mask::"));
    assert_eq!(github.mints()[0].audience, "sts.amazonaws.com");
}

#[tokio::test]
async fn missing_variables_exit_2_and_name_the_permission() {
    let run = Client::new(&["token", "--audience", AUDIENCE])
        .in_actions()
        .run()
        .await;
    run.assert_exit(
        2,
        &["ACTIONS_ID_TOKEN_REQUEST_URL is not set: add `permissions: id-token: write` to the job"],
    );
    assert!(
        run.stderr.starts_with("::error"),
        "an annotation inside Actions"
    );

    let (_issuer, github) = mocks().await;
    let run = Client::new(&["token", "--audience", AUDIENCE])
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            github.id_token_request_url(),
        )
        .run()
        .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("error: ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_refused_request_names_the_permission() {
    let (_issuer, github) = mocks().await;
    github.fail_token_requests(403, 1);
    let run = Client::new(&["token", "--audience", AUDIENCE])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &["refused the request (HTTP 403)", "id-token: write"]);

    let run = Client::new(&["token", "--audience", AUDIENCE])
        .github(&github)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
        .run()
        .await;
    assert_eq!(
        run.code, 2,
        "a bad bearer is refused like a missing permission"
    );
    assert_eq!(github.mint_count(), 0);
}

#[tokio::test]
async fn retries_a_flaky_token_service() {
    let (_issuer, github) = mocks().await;
    github.fail_token_requests(503, 1);
    let run = Client::new(&["token", "--audience", AUDIENCE])
        .github(&github)
        .run()
        .await;
    run.assert_exit(0, &["HTTP 503"]);
    assert_eq!(github.mint_count(), 1);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let run = Client::new(&["token"]).run().await;
    run.assert_exit(2, &["--audience"]);
    let run = Client::new(&["--help"]).run().await;
    run.assert_success();
    assert!(
        run.stdout
            .contains("Exit status: 0 success; 1 the check failed")
    );
}
