//! `single_use` and the body (`VerifiedJson`): a request refused for its body (not JSON, not the
//! type, the type's own `validate`, over the limit) leaves its token unspent, so the job can send
//! the same token again with a good body; and a handler that takes the caller twice (which would
//! spend the token before the body is checked) is caught.

use crate::common::*;
use crate::guards_support::*;
use crate::single_use::scripted;
use ci_endpoint::server::{Deployment, replay::Recorded};

const SINGLE_USE: &str = "single_use = true\n";

fn preview() -> Deployment {
    Deployment::in_environment("preview")
}

#[tokio::test]
async fn a_refused_body_leaves_the_token_unspent() {
    let (store, calls) = scripted(Ok(Recorded::First));
    let app = guarded_app(SINGLE_USE, preview(), Some(store)).await;
    let token = app.good_token();
    let too_big = format!(r#"{{"flags":{{"a":"{}"}}}}"#, "x".repeat(ECHO_MAX_ENCODED));
    let over_limit = format!(r#"{{"flags":{{"a":"{}"}}}}"#, "x".repeat(70 * 1024));
    for (body, status) in [
        ("not json".to_owned(), 400),
        (r#"{"flags":[]}"#.to_owned(), 400),
        (too_big, 400), // the body type's own check (`RequestBody::validate`)
        (over_limit, 413),
    ] {
        let answer = app.post(Some(&token), body).await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
    assert!(
        calls.lock().unwrap().is_empty(),
        "a refused body spent the token"
    );
    // The same token, with a body the endpoint accepts, is spent now.
    let answer = app.post(Some(&token), GOOD_BODY).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_token_whose_body_was_refused_is_accepted_once_after() {
    let app = guarded_app(SINGLE_USE, preview(), None).await;
    let token = app.good_token();
    let answer = app.post(Some(&token), "not json").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(app.post(Some(&token), GOOD_BODY).await.status, 200);
    assert_answer(
        &app.post(Some(&token), GOOD_BODY).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
}

#[tokio::test]
async fn a_handler_taking_the_caller_twice_is_refused_500_and_logged() {
    use ci_endpoint::{Endpoint, RequestBody, VerifiedCaller, VerifiedJson};
    #[derive(serde::Deserialize)]
    struct Anything {}
    impl RequestBody for Anything {}
    async fn both(_caller: VerifiedCaller, _call: VerifiedJson<Anything>) -> &'static str {
        "acted"
    }
    let (logs, _guard) = Capture::start();
    let app = TestApp::builder(Endpoint::new(ECHO, axum::routing::post(both)))
        .start()
        .await;
    let answer = app.post(Some(&app.good_token()), "{}").await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert!(
        logs.text().contains("take VerifiedJson alone"),
        "{}",
        logs.text()
    );
}
