//! An upstream that echoes the request's headers back, the secret among them, plainly and
//! JSON-escaped: the answer and everything logged hold `[redacted]` instead. A test binary of its
//! own: tracing's per-callsite interest is process-wide, and a capture is per thread.

use crate::common::*;
use ci_fixtures::Capture;
use wiremock::{Mock, matchers::method};

#[tokio::test]
async fn an_upstream_echoing_the_secret_gets_it_scrubbed_from_the_answer_and_the_logs() {
    let (capture, _guard) = Capture::start();
    let setup = setup("").await;
    Mock::given(method("POST"))
        .respond_with(EchoHeaders)
        .mount(&setup.upstream)
        .await;
    let answer = setup.call("{}").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        !answer.body.contains(SECRET),
        "the secret came back: {}",
        answer.body
    );
    let json = answer.json();
    assert_eq!(json["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(json["hidden"], "[redacted]");
    let _ = setup.call(r#"{"x":1}"#).await;
    let logs = capture.text();
    assert!(logs.contains("upstream answered"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret was logged");
}
