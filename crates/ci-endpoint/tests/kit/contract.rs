//! Every row of the HTTP contract (`CONTRACT.md` §2), in the table's order, against the kit with a
//! test endpoint, bodies byte for byte. Each row is also shown to win over the rows below it
//! (production before auth before body), which is what "checked in this order" means.

use crate::common::*;
use axum::{body::Body, http::Request};
use bytes::Bytes;
use ci_endpoint::server::Deployment;
use ci_fixtures::JwksFault;
use ci_oidc::{KeyStore, KeyStoreOptions, Verifier};
use serde_json::json;

const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
const REPO_MISMATCH: &str = r#"{"error":"forbidden","reason":"repo_mismatch"}"#;
const TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;
const BAD_REQUEST: &str = r#"{"error":"bad_request"}"#;
const COOKIE_TOO_LARGE: &str = r#"{"error":"bad_request","reason":"cookie_too_large"}"#;
const MISCONFIGURED: &str = r#"{"error":"misconfigured"}"#;

fn oversized_body() -> String {
    format!(r#"{{"flags":{{"x":"{}"}}}}"#, "a".repeat(70 * 1024))
}

/// A body sent in chunks with no Content-Length, so only reading it shows it is too big.
fn chunked(total: usize) -> Body {
    let chunk = Bytes::from(vec![b' '; 8 * 1024]);
    let count = total.div_ceil(chunk.len());
    let chunks = (0..count).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    Body::from_stream(futures_util::stream::iter(chunks))
}

// Row 1: environment not served → 404 text/plain, before headers or body are read.

#[tokio::test]
async fn row1_not_served_environments_answer_404_before_anything() {
    for env in [Some("production"), None, Some("staging"), Some("Preview")] {
        let app = app_in(env, true).await;
        let token = app.good_token();
        for request in [
            app.request(Some(&token), GOOD_BODY),
            app.request(None, "not json"),
            app.request(Some("garbage"), oversized_body()),
            Request::get(ECHO_PATH).body(Body::empty()).unwrap(),
            Request::get("/api/~/ci/health")
                .body(Body::empty())
                .unwrap(),
            Request::get("/").body(Body::empty()).unwrap(),
        ] {
            let answer = app.send(request).await;
            assert_answer(&answer, 404, "Not Found");
            assert!(answer.content_type().starts_with("text/plain"), "{env:?}");
        }
    }
}

#[tokio::test]
async fn row1_production_reads_no_body() {
    // A body that errors when polled: if the guard read it, the answer would not be a 404.
    let app = app_in(Some("production"), true).await;
    let failing = Body::from_stream(futures_util::stream::iter([Err::<Bytes, _>(
        std::io::Error::other("body must not be read"),
    )]));
    let answer = app.post(Some(&app.good_token()), failing).await;
    assert_answer(&answer, 404, "Not Found");
}

// Row 2: no token header → 401.

#[tokio::test]
async fn row2_missing_token_is_401_even_with_a_bad_body() {
    let app = app_in(Some("preview"), true).await;
    for body in [
        GOOD_BODY.to_owned(),
        oversized_body(),
        "not json".to_owned(),
    ] {
        assert_answer(&app.post(None, body).await, 401, UNAUTHORIZED);
    }
    // Blank counts as missing, as `if (!token)` did.
    assert_answer(&app.post(Some(""), GOOD_BODY).await, 401, UNAUTHORIZED);
}

#[tokio::test]
async fn row2_two_token_headers_are_refused() {
    let app = app_in(Some("preview"), true).await;
    let token = app.good_token();
    let mut request = app.request(Some(&token), GOOD_BODY);
    request
        .headers_mut()
        .append(ci_endpoint::TOKEN_HEADER, token.parse().unwrap());
    assert_answer(&app.send(request).await, 401, UNAUTHORIZED);
}

// Row 3: invalid token (format, header, signature, issuer, audience, times) → 401.

#[tokio::test]
async fn row3_invalid_tokens_are_401() {
    let app = app_in(Some("preview"), true).await;
    let tokens = [
        "not-a-jwt".to_owned(),
        "a.b.c".to_owned(),
        app.issuer().token("https://other.example/aud").build(),
        app.token().expired().build(),
        app.token().sign_with_foreign_key().build(),
        app.token()
            .claim("iss", json!("https://evil.example"))
            .build(),
        app.token().header("alg", json!("none")).build(),
    ];
    for token in &tokens {
        // An oversized body too: auth is refused before the body is looked at.
        let answer = app.post(Some(token), oversized_body()).await;
        assert_answer(&answer, 401, UNAUTHORIZED);
        assert_eq!(answer.content_type(), "application/json");
    }
}

// Row 4: repository missing or not allowed → 403 repo_mismatch, before the other claim checks.

#[tokio::test]
async fn row4_repository_mismatch_is_403() {
    let app = app_in(Some("preview"), true).await;
    let tokens = [
        app.token()
            .claim("repository", json!("someone/else"))
            .build(),
        app.token().without("repository").build(),
        // Wrong repository and wrong workflow: the repository answer wins, as in the prototype.
        app.token()
            .claim("repository", json!("someone/else"))
            .claim(
                "workflow_ref",
                json!("someone/else/.github/workflows/x.yaml@refs/heads/main"),
            )
            .build(),
    ];
    for token in &tokens {
        let answer = app.post(Some(token), oversized_body()).await;
        assert_answer(&answer, 403, REPO_MISMATCH);
    }
}

// Row 5: any other policy check → 401.

#[tokio::test]
async fn row5_other_policy_checks_are_401() {
    let app = app_in(Some("preview"), true).await;
    let tokens = [
        app.token()
            .claim(
                "workflow_ref",
                json!("octo-org/octo-repo/.github/workflows/other.yaml@refs/pull/12/merge"),
            )
            .build(),
        app.token().without("workflow_ref").build(),
        app.token().event("pull_request_target").build(),
        app.token().event("workflow_run").build(),
    ];
    for token in &tokens {
        let answer = app.post(Some(token), oversized_body()).await;
        assert_answer(&answer, 401, UNAUTHORIZED);
    }
}

// Row 6: body over the limit → 413.

#[tokio::test]
async fn row6_oversized_bodies_are_413() {
    let app = app_in(Some("preview"), true).await;
    let token = app.good_token();
    // Declared by Content-Length (refused before reading).
    let mut request = app.request(Some(&token), oversized_body());
    let len = oversized_body().len().to_string();
    request
        .headers_mut()
        .insert("content-length", len.parse().unwrap());
    assert_answer(&app.send(request).await, 413, TOO_LARGE);
    // Chunked, no length: refused while reading.
    let answer = app.post(Some(&token), chunked(80 * 1024)).await;
    assert_answer(&answer, 413, TOO_LARGE);
    // Exactly at the limit is not "over" it (and is then judged as JSON).
    let answer = app.post(Some(&token), chunked(64 * 1024)).await;
    assert_answer(&answer, 400, BAD_REQUEST);
}

// Row 7: body not JSON, no `flags`, `flags` not an object → 400.

#[tokio::test]
async fn row7_bad_bodies_are_400() {
    let app = app_in(Some("preview"), true).await;
    let token = app.good_token();
    for body in [
        "",
        "not json",
        "{",
        "[]",
        "null",
        "{}",
        r#"{"flag":{}}"#,
        r#"{"flags":[]}"#,
        r#"{"flags":null}"#,
        r#"{"flags":"x"}"#,
        r#"{"flags":1}"#,
        r#"{"flags":true}"#,
    ] {
        let answer = app.post(Some(&token), body).await;
        assert_answer(&answer, 400, BAD_REQUEST);
    }
    // A declared non-JSON content type is "not JSON".
    let mut request = app.request(Some(&token), GOOD_BODY);
    request.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_answer(&app.send(request).await, 400, BAD_REQUEST);
}

// Rows 8 and 9 are the endpoint's own (its size limit, its secret), after the kit's rows.

#[tokio::test]
async fn row8_endpoint_reason_is_sent_after_the_kit_rows() {
    let app = app_in(Some("preview"), false).await;
    let big = format!(r#"{{"flags":{{"x":"{}"}}}}"#, "a".repeat(ECHO_MAX_ENCODED));
    let answer = app.post(Some(&app.good_token()), big).await;
    assert_answer(&answer, 400, COOKIE_TOO_LARGE);
}

#[tokio::test]
async fn row9_missing_secret_is_500_misconfigured_after_auth_and_body() {
    let app = app_in(Some("preview"), false).await;
    assert_answer(&app.post(None, GOOD_BODY).await, 401, UNAUTHORIZED);
    let token = app.good_token();
    assert_answer(&app.post(Some(&token), "{}").await, 400, BAD_REQUEST);
    assert_answer(&app.post(Some(&token), GOOD_BODY).await, 500, MISCONFIGURED);
}

// Row 10: success.

#[tokio::test]
async fn row10_success() {
    for env in ["preview", "development"] {
        let app = app_in(Some(env), true).await;
        let answer = app.post(Some(&app.good_token()), GOOD_BODY).await;
        assert_answer(
            &answer,
            200,
            r#"{"repository":"octo-org/octo-repo","flags":{"ciInPreviewSmoke":true}}"#,
        );
        assert_eq!(answer.content_type(), "application/json");
        assert_eq!(answer.headers["cache-control"], "no-store");
    }
    // No content type at all is accepted (the prototype ignored it).
    let app = app_in(Some("preview"), true).await;
    let mut request = app.request(Some(&app.good_token()), GOOD_BODY);
    request.headers_mut().remove("content-type");
    assert_eq!(app.send(request).await.status, 200);
}

// Beyond the table.

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    issuer.set_fault(JwksFault::Status(500));
    let keys = KeyStore::from_jwks_url(&issuer.jwks_url(), KeyStoreOptions::default()).unwrap();
    let app = ci_endpoint::server::app(
        policy(&issuer),
        Deployment::in_environment("preview"),
        Verifier::new(issuer.issuer_url(), keys),
        vec![echo_endpoint()],
    )
    .unwrap();
    let token = issuer.token(AUDIENCE).build();
    let answer = post_echo(&app, Some(&token)).await;
    assert_answer(&answer, 503, r#"{"error":"unavailable"}"#);
    assert_eq!(answer.headers["retry-after"], "5");
}

#[tokio::test]
async fn wrong_method_is_405_only_where_served() {
    let app = app_in(Some("preview"), true).await;
    let answer = app
        .send(Request::get(ECHO_PATH).body(Body::empty()).unwrap())
        .await;
    assert_eq!(answer.status.as_u16(), 405);
    let app = app_in(Some("production"), true).await;
    let answer = app
        .send(Request::get(ECHO_PATH).body(Body::empty()).unwrap())
        .await;
    assert_answer(&answer, 404, "Not Found");
}

#[tokio::test]
async fn unknown_paths_are_404_where_served() {
    let app = app_in(Some("preview"), true).await;
    for path in [
        "/",
        "/api/~/ci",
        "/api/~/ci/nope",
        "/api/~/ci/test/echo/more",
    ] {
        let answer = app
            .send(Request::post(path).body(Body::empty()).unwrap())
            .await;
        assert_answer(&answer, 404, "Not Found");
    }
}
