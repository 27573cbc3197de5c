//! Who a session may be (the review's finding: any verified caller could name any `sub`, `iss`,
//! `aud` or `nbf`): the policy's subject allowlist and claim list, the reserved claims, the typed
//! body, and a `single_use` token that survives a refused body.

use crate::common::{CAP, CONFIG, SECRET, builder_with};
use ci_fixtures::{MockIssuer, TestApp};
use serde_json::json;

fn refused(reason: &str) -> (u16, String) {
    (
        400,
        format!(r#"{{"error":"bad_request","reason":"{reason}"}}"#),
    )
}

/// The app with `single_use` on and the tests' settings.
async fn single_use_app() -> TestApp {
    let keys = format!("cookie_max_age = {CAP}\nsingle_use = true\n{CONFIG}");
    builder_with("preview", Some(SECRET), None, &keys)
        .start()
        .await
}

async fn post(app: &TestApp, token: &str, body: &str) -> (u16, String) {
    let answer = app.post(Some(token), body.to_owned()).await;
    (answer.status.as_u16(), answer.body)
}

#[tokio::test]
async fn only_the_policys_subjects_and_claims_get_a_session() {
    let app = single_use_app().await;
    for (session, expected) in [
        (json!({"sub": "admin"}), refused("subject_not_allowed")),
        (json!({"sub": "U1"}), refused("subject_not_allowed")), // exact, no case folding
        (json!({"sub": "u1 "}), refused("subject_not_allowed")),
        (json!({"name": "No Subject"}), refused("subject_missing")),
        (json!({"sub": 1}), refused("subject_missing")),
        (
            json!({"sub": "u1", "role": "admin"}),
            refused("claim_not_allowed"),
        ),
        (
            json!({"sub": "u1", "iss": "https://evil"}),
            refused("reserved_claim"),
        ),
        (
            json!({"sub": "u1", "exp": 9_999_999_999u64}),
            refused("reserved_claim"),
        ),
        (
            json!({"sub": "u1", "jti": "mine"}),
            refused("reserved_claim"),
        ),
    ] {
        let body = json!({ "session": session }).to_string();
        assert_eq!(
            post(&app, &app.good_token(), &body).await,
            expected,
            "{body}"
        );
    }
    for subject in ["u1", "u2"] {
        let session = json!({"sub": subject, "name": "N", "email": "e@x.test", "picture": "p"});
        let body = json!({ "session": session }).to_string();
        let (status, text) = post(&app, &app.good_token(), &body).await;
        assert_eq!(status, 200, "{text}");
    }
}

#[tokio::test]
async fn the_body_is_typed() {
    let app = single_use_app().await;
    let plain = (400, r#"{"error":"bad_request"}"#.to_owned());
    for body in [
        r#"{"session":{"sub":"u1"},"max_age":60}"#, // the misspelling would give the longest session
        r#"{"session":{"sub":"u1"},"user":"admin"}"#,
    ] {
        assert_eq!(post(&app, &app.good_token(), body).await, plain, "{body}");
    }
}

/// A job whose request is wrong loses nothing: the body is checked before the token is spent.
#[tokio::test]
async fn a_refused_body_does_not_spend_a_single_use_token() {
    let app = single_use_app().await;
    let token = app.good_token();
    for body in [
        json!({"session": {"sub": "admin"}}),
        json!({"session": {"sub": "u1", "aud": "x"}}),
        json!({"session": {"sub": "u1"}, "maxAge": CAP + 1}),
        json!({"session": "u1"}),
    ] {
        let (status, text) = post(&app, &token, &body.to_string()).await;
        assert_eq!(status, 400, "{body}: {text}");
    }
    let good = json!({"session": {"sub": "u1"}}).to_string();
    let (status, text) = post(&app, &token, &good).await;
    assert_eq!(status, 200, "{text}");
    // Spent now.
    assert_eq!(
        post(&app, &token, &good).await,
        (401, r#"{"error":"unauthorized"}"#.to_owned())
    );
}

#[tokio::test]
async fn the_allowlist_is_required_and_checked_at_start_up() {
    let issuer = MockIssuer::start().await;
    let table = "\n[endpoints.\"auth/encrypt-session\".config]\n";
    for (keys, names) in [
        (String::new(), "endpoints.\"auth/encrypt-session\".config"),
        (format!("{table}subjects = []\n"), "config.subjects"),
        (format!("{table}subjects = [\" \"]\n"), "config.subjects[0]"),
        (
            format!("{table}subjects = [\"u1\"]\ncaller_claims = [\"name\", \"aud\"]\n"),
            "config.caller_claims[1]",
        ),
        (
            format!("{table}subjects = [\"u1\"]\nsubject = \"u2\"\n"),
            "subject",
        ),
    ] {
        let built = builder_with("preview", Some(SECRET), None, &keys).router_for(&issuer);
        let error = match built {
            Ok(_) => panic!("start-up should have been refused: {keys}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(names), "{keys}: {error}");
    }
}
