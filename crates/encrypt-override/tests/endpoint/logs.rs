//! Everything the endpoint and the kit log while serving and refusing requests, captured down to
//! TRACE: the caller's identity and the number of flags appear; the cookie, the flag values,
//! the OIDC token and the secret never do.

use crate::common::*;
use ci_fixtures::Capture;
use serde_json::Value;

const VALUE: &str = "flag-value-that-must-not-leak";

#[tokio::test]
async fn logs_carry_the_caller_and_the_count_but_no_secret_material() {
    let (capture, _guard) = Capture::start();

    let app = app_in(Some("preview"), Some(SECRET)).await;
    let token = app.good_token();
    let body = format!(r#"{{"flags":{{"a":"{VALUE}","b":{{"c":"{VALUE}"}}}}}}"#);
    let answer = app.post(Some(&token), body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let cookie = serde_json::from_str::<Value>(&answer.body).unwrap()["cookie"]
        .as_str()
        .unwrap()
        .to_owned();
    let too_large = format!(
        r#"{{"flags":{}}}"#,
        flags_of_json_len(3500).replace('x', "v")
    );
    let _ = app.post(Some(&token), too_large).await;
    let _ = app.post(Some(&token), r#"{"flags":[1]}"#).await;
    let unready = app_in(Some("preview"), None).await;
    let _ = unready.post(Some(&unready.good_token()), GOOD_BODY).await;

    let logs = capture.text();
    assert!(logs.contains("audit"), "{logs}");
    assert!(logs.contains("flag_count=2"), "{logs}");
    assert!(logs.contains("octo-org/octo-repo"), "{logs}");
    assert!(
        logs.contains("cookie_too_large") || logs.contains("too large"),
        "{logs}"
    );
    assert!(logs.contains("not configured"), "{logs}");
    assert!(!logs.contains(VALUE), "a flag value was logged");
    assert!(!logs.contains(&"v".repeat(64)), "a flag value was logged");
    for segment in cookie.split('.').filter(|s| s.len() > 20).skip(1) {
        assert!(!logs.contains(segment), "a cookie segment was logged");
    }
    for segment in token.split('.').skip(1) {
        assert!(!logs.contains(segment), "a token segment was logged");
    }
    assert!(!logs.contains(SECRET), "the secret was logged");
}
