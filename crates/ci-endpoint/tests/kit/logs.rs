//! Captures everything the kit logs (down to TRACE, text and JSON) while it refuses and accepts
//! tokens, and checks that no token, nor any segment of one, ever reaches a log line, while the
//! reason for each refusal does.

use crate::common::*;
use ci_fixtures::Capture;
use serde_json::json;

/// Runs refusals and a success with the given subscriber installed; returns the tokens used.
async fn exercise() -> Vec<String> {
    let app = app_in(Some("preview"), true).await;
    let tokens = vec![
        app.good_token(),
        app.issuer().token("https://other.example/aud").build(),
        app.token().expired().build(),
        app.token().sign_with_foreign_key().build(),
        app.token()
            .claim("repository", json!("someone/else"))
            .build(),
        app.token().event("pull_request_target").build(),
        "eyJhbGciOiJSUzI1NiJ9.not-base64!.c2lnbmF0dXJl".to_owned(),
    ];
    for token in &tokens {
        for body in [GOOD_BODY, "not json"] {
            let _ = app.post(Some(token), body).await;
        }
    }
    tokens
}

fn assert_no_token(logs: &str, tokens: &[String]) {
    assert!(logs.contains("request refused"), "capture works: {logs}");
    assert!(logs.contains("audit"));
    assert!(logs.contains("aud"), "the failing check is logged");
    assert!(
        logs.contains("someone/else"),
        "the actual claim value is logged"
    );
    for token in tokens {
        assert!(!logs.contains(token.as_str()), "token leaked into logs");
        for segment in token.split('.').filter(|s| s.len() >= 8) {
            assert!(
                !logs.contains(segment),
                "token segment {segment} leaked into logs"
            );
        }
    }
}

#[tokio::test]
async fn text_logs_never_hold_a_token() {
    let (capture, _guard) = Capture::start();
    let tokens = exercise().await;
    assert_no_token(&capture.text(), &tokens);
}

#[tokio::test]
async fn json_logs_never_hold_a_token() {
    let (capture, _guard) = Capture::start_json();
    let tokens = exercise().await;
    let logs = capture.text();
    assert_no_token(&logs, &tokens);
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
}
