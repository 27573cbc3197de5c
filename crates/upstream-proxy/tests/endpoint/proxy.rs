//! A `proxy/…` endpoint through the real kit against wiremock upstreams behind an https front
//! with a test CA: the declared call and nothing of the caller's, one redirecting to another host,
//! one that hangs, one answering 10 MB, one whose certificate the proxy does not trust, and the
//! refusals of the caller's body (`logs.rs`: an upstream echoing the secret back).

use std::time::{Duration, Instant};

use crate::common::*;
use ci_fixtures::{HttpsFront, TestApp, assert_answer};
use serde_json::json;
use upstream_proxy::UpstreamClient;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn forwards_the_declared_call_and_nothing_of_the_callers() {
    let setup = setup("max_request_bytes = 256\njson_fields = [\"email\"]").await;
    Mock::given(method("POST"))
        .and(path("/v1/testing_tokens"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .and(body_json(json!({"email": "e2e@test.example"})))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"object": "testing_token", "token": "tt_1"})),
        )
        .expect(1)
        .mount(&setup.upstream)
        .await;
    let answer = setup.call(r#"{"email":"e2e@test.example"}"#).await;
    assert_answer(&answer, 200, r#"{"object":"testing_token","token":"tt_1"}"#);
    let received = setup.upstream.received_requests().await.expect("recorded");
    let request = &received[0];
    assert_eq!(
        request.url.query(),
        None,
        "the caller's query string stays here"
    );
    assert!(request.headers.get("x-upstream-path").is_none());
    assert!(
        request.headers.get("x-github-oidc-token").is_none(),
        "the OIDC token went upstream"
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["accept"], "application/json");
}

#[tokio::test]
async fn the_callers_body_is_refused_where_the_policy_does_not_forward_it() {
    let none = setup("").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&none.upstream)
        .await;
    assert_answer(&none.call("{}").await, 200, r#"{"ok":true}"#);
    assert_eq!(
        none.upstream.received_requests().await.expect("recorded")[0].body,
        b""
    );
    let refused = r#"{"error":"bad_request","reason":"body_not_accepted"}"#;
    assert_answer(&none.call(r#"{"email":"x"}"#).await, 400, refused);
    let listed = setup("max_request_bytes = 64\njson_fields = [\"email\"]").await;
    let field = r#"{"error":"bad_request","reason":"field_not_allowed"}"#;
    assert_answer(
        &listed.call(r#"{"email":"x","admin":true}"#).await,
        400,
        field,
    );
    let shape = r#"{"error":"bad_request","reason":"body_not_an_object"}"#;
    assert_answer(&listed.call(r#"["email"]"#).await, 400, shape);
    let long = format!(r#"{{"email":"{}"}}"#, "x".repeat(80));
    assert_answer(
        &listed.call(&long).await,
        413,
        r#"{"error":"payload_too_large"}"#,
    );
    assert_answer(
        &listed.call("not json").await,
        400,
        r#"{"error":"bad_request"}"#,
    );
    assert!(
        listed
            .upstream
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let setup = setup("").await;
    let other = MockServer::start().await;
    let other_front = HttpsFront::start(*other.address()).await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", other_front.url())),
        )
        .mount(&setup.upstream)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"stolen": true})))
        .expect(0)
        .mount(&other)
        .await;
    let answer = setup.call("{}").await;
    assert_answer(
        &answer,
        502,
        r#"{"error":"bad_gateway","reason":"upstream_redirect"}"#,
    );
    other.verify().await;
}

#[tokio::test]
async fn an_upstream_that_hangs_times_out() {
    let setup = setup("").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&setup.upstream)
        .await;
    let started = Instant::now();
    let answer = setup.call("{}").await;
    assert_answer(
        &answer,
        504,
        r#"{"error":"gateway_timeout","reason":"upstream_timeout"}"#,
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_10_mb_answer_is_refused_not_passed_back() {
    let setup = setup("").await;
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big, "application/json"))
        .mount(&setup.upstream)
        .await;
    let answer = setup.call("{}").await;
    assert_answer(
        &answer,
        502,
        r#"{"error":"bad_gateway","reason":"upstream_too_large"}"#,
    );
}

#[tokio::test]
async fn upstream_failures_are_502_with_a_reason() {
    let setup = setup("").await;
    Mock::given(method("POST"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("boom {SECRET}")))
        .up_to_n_times(1)
        .mount(&setup.upstream)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .mount(&setup.upstream)
        .await;
    let error = r#"{"error":"bad_gateway","reason":"upstream_error"}"#;
    assert_answer(&setup.call("{}").await, 502, error);
    let not_json = r#"{"error":"bad_gateway","reason":"upstream_not_json"}"#;
    assert_answer(&setup.call("{}").await, 502, not_json);
}

#[tokio::test]
async fn tls_is_verified_an_untrusted_certificate_is_unreachable() {
    let setup = setup_with("", false, Some(SECRET), "preview").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(0)
        .mount(&setup.upstream)
        .await;
    let answer = setup.call("{}").await;
    assert_answer(
        &answer,
        502,
        r#"{"error":"bad_gateway","reason":"upstream_unreachable"}"#,
    );
}

#[tokio::test]
async fn no_secret_is_misconfigured_and_production_has_no_route() {
    let unready = setup_with("", true, None, "preview").await;
    assert_eq!(unready.app.health().await["endpoints"][0]["ready"], false);
    assert_answer(
        &unready.call("{}").await,
        500,
        r#"{"error":"misconfigured"}"#,
    );
    let production = setup_with("", true, Some(SECRET), "production").await;
    assert_answer(&production.call("{}").await, 404, "Not Found");
    assert!(
        unready
            .upstream
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[tokio::test]
async fn a_bad_declaration_stops_start_up_and_a_foreign_variable_is_misconfigured() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let client = UpstreamClient::with_extra_roots_pem(b"").expect("client");
    let build = |config: &str| {
        TestApp::builder(upstream_proxy::endpoint_with(NAME, VAR, client.clone()))
            .strict()
            .policy_keys(&format!("[endpoints.\"{NAME}\".config]\n{config}\n"))
            .var(VAR, SECRET)
            .router_for(&issuer)
    };
    for (config, key) in [
        (
            "url = \"http://127.0.0.1:9/x\"\nmethod = \"POST\"",
            "config.url",
        ),
        (
            "url = \"https://a.test/\"\nmethod = \"TRACE\"",
            "config.method",
        ),
        ("method = \"POST\"", "config"),
        (
            "url = \"https://a.test/\"\nmethod = \"GET\"\nretries = 3",
            "config",
        ),
    ] {
        let error = build(config).expect_err(config).to_string();
        assert!(error.contains(key), "{config}: {error}");
    }
    let foreign =
        build("url = \"https://a.test/\"\nmethod = \"POST\"\nheaders = { A = \"${OTHER}\" }")
            .expect("valid on its own");
    let answer = ci_fixtures::send(
        &foreign,
        axum::http::Request::post(ci_endpoint::endpoint_path(NAME))
            .header(
                "x-github-oidc-token",
                issuer.token(&ci_fixtures::test_audience(NAME)).build(),
            )
            .body(axum::body::Body::from("{}"))
            .expect("request"),
    )
    .await;
    assert_answer(&answer, 500, r#"{"error":"misconfigured"}"#);
}
