//! The request's one log line (`audit.rs`): an authorized call leaves exactly one audit line whose
//! fields are the claims, named as the claims are, plus the endpoint's summary; a refused request
//! leaves exactly one refusal line with a named reason; neither ever holds the token, the body's
//! values or the answer.

use axum::{Json, routing::post};
use ci_endpoint::{CiError, Endpoint, RequestBody, VerifiedJson};
use ci_fixtures::{Capture, TestApp};
use serde_json::{Map, Value, json};

const NAME: &str = "test/audited";
const VALUE: &str = "a-flag-value-that-must-not-be-logged";

#[derive(serde::Deserialize)]
struct Request {
    flags: Map<String, Value>,
}

impl RequestBody for Request {}

async fn audited(
    VerifiedJson { caller, body }: VerifiedJson<Request>,
) -> Result<Json<Value>, CiError> {
    caller.summarize("flag_count", body.flags.len());
    caller.summarize("dry_run", false);
    if body.flags.contains_key("refuse") {
        return Err(CiError::BadRequest {
            reason: Some("refused_on_purpose"),
        });
    }
    Ok(Json(json!({ "answer": VALUE })))
}

async fn app() -> TestApp {
    TestApp::builder(Endpoint::new(NAME, post(audited)))
        .start()
        .await
}

/// Every JSON line captured, parsed.
fn lines(capture: &Capture) -> Vec<Value> {
    capture
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

fn audit_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["target"] == ci_endpoint::AUDIT_TARGET)
        .collect()
}

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn an_authorized_call_leaves_one_audit_line_named_as_the_claims() {
    let app = app().await;
    let (capture, _guard) = Capture::start_json();
    let builder = app.token().claim(
        "job_workflow_ref",
        "octo-org/shared/.github/workflows/smoke.yml@refs/heads/main",
    );
    let claims = builder.claims();
    let token = builder.build();
    let body = json!({ "flags": { "a": VALUE, "b": true } }).to_string();
    let answer = app.post(Some(&token), body).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    let lines = lines(&capture);
    assert_eq!(
        lines.len(),
        1,
        "one line per call, and only one: {lines:#?}"
    );
    let audit = audit_lines(&lines);
    assert_eq!(audit.len(), 1, "{lines:#?}");
    let fields = &audit[0]["fields"];
    assert_eq!(audit[0]["level"], "INFO");
    assert_eq!(fields["message"], "audit");
    assert_eq!(fields["endpoint"], NAME);
    assert_eq!(fields["result"], "ok");
    assert_eq!(fields["status"], 200);
    assert!(fields.get("reason").is_none(), "no reason on success");
    for claim in ci_fixtures::AUDIT_CLAIM_FIELDS {
        assert!(claims[claim].is_string(), "the fixture carries {claim}");
        assert_eq!(fields[claim], claims[claim], "field {claim}");
    }
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(fields["jti_sha256"], sha256_hex(jti));
    assert_eq!(fields["summary"], "flag_count=2 dry_run=false");

    let logs = capture.text();
    assert!(!logs.contains(jti), "the jti itself is not logged");
    assert!(
        !logs.contains(VALUE),
        "neither the body's values nor the answer"
    );
    for segment in token.split('.') {
        assert!(!logs.contains(segment), "a token segment was logged");
    }
}

#[tokio::test]
async fn a_verified_call_refused_by_its_handler_is_one_audit_line_with_the_reason() {
    let app = app().await;
    let (capture, _guard) = Capture::start_json();
    let token = app.good_token();
    let answer = app
        .post(
            Some(&token),
            json!({ "flags": { "refuse": VALUE } }).to_string(),
        )
        .await;
    assert_eq!(answer.status, 400);
    let answer = app.post(Some(&app.good_token()), r#"{"flags":["#).await;
    assert_eq!(answer.status, 400);

    let lines = lines(&capture);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let audit = audit_lines(&lines);
    assert_eq!(audit.len(), 2, "{lines:#?}");
    let (handler, body) = (&audit[0]["fields"], &audit[1]["fields"]);
    assert_eq!(handler["result"], "refused");
    assert_eq!(handler["status"], 400);
    assert_eq!(handler["reason"], "refused_on_purpose");
    assert_eq!(handler["summary"], "flag_count=1 dry_run=false");
    assert_eq!(body["reason"], "body_not_expected_json");
    assert_eq!(body["summary"], "");
    assert!(!capture.text().contains(VALUE));
}

#[tokio::test]
async fn a_refused_request_is_one_line_with_a_named_reason_and_no_audit_line() {
    let app = app().await;
    let (capture, _guard) = Capture::start_json();
    let body = json!({ "flags": { "a": VALUE } }).to_string();
    let other_repository = app.token().claim("repository", "someone/else").build();
    let cases = [
        (None, 401, "no_token"),
        (Some(app.token().expired().build()), 401, "invalid_token"),
        (Some(other_repository.clone()), 403, "repo_mismatch"),
        (
            Some(app.token().event("schedule").build()),
            401,
            "event_not_allowed",
        ),
    ];
    for (token, status, _) in &cases {
        let answer = app.post(token.as_deref(), body.clone()).await;
        assert_eq!(answer.status, *status, "{answer:?}");
    }

    let lines = lines(&capture);
    assert!(audit_lines(&lines).is_empty(), "{lines:#?}");
    assert_eq!(lines.len(), cases.len(), "one line per refusal: {lines:#?}");
    for (line, (token, status, reason)) in lines.iter().zip(&cases) {
        let fields = &line["fields"];
        assert_eq!(line["level"], "WARN");
        assert_eq!(fields["message"], "request refused");
        assert_eq!(fields["status"], *status);
        assert_eq!(fields["reason"], *reason, "{line}");
        if let Some(token) = token {
            assert!(
                fields["check"].is_string(),
                "a token refusal names its check"
            );
            for segment in token.split('.') {
                assert!(
                    !capture.text().contains(segment),
                    "a token segment was logged"
                );
            }
        }
    }
    assert_eq!(
        lines[2]["fields"]["actual"], "\"someone/else\"",
        "claim values are quoted"
    );
    assert!(!capture.text().contains(VALUE));
}
