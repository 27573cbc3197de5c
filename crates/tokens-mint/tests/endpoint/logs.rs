//! What the endpoint logs while minting and refusing, captured down to TRACE: the subject and the
//! refusal's reason appear; the key, the minted token and the OIDC token never do. A test binary
//! of its own: tracing's per-callsite interest is process-wide, and a capture is per thread.

use crate::common::*;
use ci_fixtures::Capture;

const REQUEST: &str = r#"{"subject":"user-1","claims":{"name":"E2E User"},"maxAge":120}"#;

#[tokio::test]
async fn logs_hold_the_subject_but_no_key_and_no_token() {
    let (capture, _guard) = Capture::start();
    let keys = keys();
    let mut tokens = Vec::new();
    for key in [&keys[0], &keys[1]] {
        let app = app(key.algorithm, Some(&key.private)).await;
        let answer = app.post(Some(&app.good_token()), REQUEST).await;
        tokens.push(answer.json()["token"].as_str().expect("token").to_owned());
        tokens.push(app.good_token());
        let _ = app
            .post(Some(&app.good_token()), r#"{"subject":"admin"}"#)
            .await;
    }
    let logs = capture.text();
    assert!(
        logs.contains("token minted") && logs.contains("user-1"),
        "{logs}"
    );
    assert!(logs.contains("subject_not_allowed"), "{logs}");
    assert!(!logs.contains(HS256_SECRET), "the HS256 secret was logged");
    let rsa_body: String = keys[1]
        .private
        .lines()
        .nth(3)
        .expect("a PEM line")
        .to_owned();
    assert!(!logs.contains(&rsa_body), "the RSA key was logged");
    for token in &tokens {
        assert!(
            !logs.contains(token.rsplit('.').next().expect("signature")),
            "a token was logged"
        );
    }
}
