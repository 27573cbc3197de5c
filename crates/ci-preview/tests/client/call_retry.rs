//! Retrying without repeating a side effect: a failure after which the endpoint may have acted
//! (500, 502, 504) is retried only for an endpoint safe to repeat (the cookie endpoints, or one
//! named with `--idempotent`); the kit's 503 `unavailable` ("not now") is retried for every one.

use crate::support::*;

fn call_unsafe(preview: &Preview, extra: &[&str]) -> Client {
    let audience = format!("https://{AUDIENCE_HOST}/api/~/ci/{UNSAFE_ENDPOINT}");
    let mut args = vec![
        "call",
        UNSAFE_ENDPOINT,
        "--url",
        &preview.url,
        "--audience",
        &audience,
        "--data",
        "{}",
    ];
    args.extend_from_slice(extra);
    Client::new(&args).env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
}

const OK: &str = r#"{"id":"created-once"}"#;

/// The review's finding: a 502 or 504 from `proxy/…` was retried like any 5xx, so an upstream
/// call that did create something was made again with a fresh token.
#[tokio::test]
async fn a_failure_the_endpoint_may_have_acted_on_is_not_retried() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    for (status, body) in [
        (502, r#"{"error":"bad_gateway","reason":"upstream_status"}"#),
        (504, r#"{"error":"gateway_timeout"}"#),
        (500, r#"{"error":"internal"}"#),
    ] {
        let before = preview.calls().len();
        preview
            .state()
            .answers
            .extend([(status, body.to_owned()), (200, OK.to_owned())]);
        let run = call_unsafe(&preview, &[]).github(&github).run().await;
        assert_eq!(run.code, 1, "{status}: {}", run.stderr);
        assert_eq!(preview.calls().len(), before + 1, "{status} was retried");
        run.assert_stderr_has(&["not retried"]);
        run.assert_stderr_has(&["--idempotent"]);
        preview.state().answers.clear();
    }
}

#[tokio::test]
async fn idempotent_endpoints_and_not_now_answers_are_retried() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    // Named safe to repeat by the user: a 502 is retried.
    preview.state().answers.extend([
        (502, r#"{"error":"bad_gateway"}"#.to_owned()),
        (200, OK.to_owned()),
    ]);
    let run = call_unsafe(&preview, &["--idempotent"])
        .github(&github)
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(preview.calls().len(), 2);
    // The kit's "not now" did nothing: retried for any endpoint.
    preview.state().answers.extend([
        (503, r#"{"error":"unavailable"}"#.to_owned()),
        (200, OK.to_owned()),
    ]);
    let run = call_unsafe(&preview, &[]).github(&github).run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(preview.calls().len(), 4);
}
