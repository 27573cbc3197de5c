//! A `proxy/…` endpoint through the real kit against wiremock upstreams behind an https front
//! with a test CA: the declared call and nothing of the caller's, an upstream echoing the secret
//! header back, one redirecting to another host, one that hangs, one answering 10 MB, one whose
//! certificate the proxy does not trust, and the refusals of the caller's body.

use std::time::{Duration, Instant};

use ci_fixtures::{Capture, HttpsFront, TestApp, assert_answer};
use serde_json::{Value, json};
use upstream_proxy::{ProxyConfig, UpstreamClient};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const NAME: &str = "proxy/test-upstream";
const VAR: &str = "UPSTREAM_KEY";
const SECRET: &str = "sk_test_9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// A wiremock upstream, its https front, and the endpoint calling it.
struct Setup {
    upstream: MockServer,
    _front: HttpsFront,
    app: TestApp,
}

async fn setup(extra: &str) -> Setup {
    setup_with(extra, true, Some(SECRET), "preview").await
}

async fn setup_with(extra: &str, trust: bool, secret: Option<&str>, env: &str) -> Setup {
    let upstream = MockServer::start().await;
    let front = HttpsFront::start(*upstream.address()).await;
    let config = ProxyConfig::from_toml(&format!(
        "url = \"{}/v1/testing_tokens\"\nmethod = \"POST\"\ntimeout_secs = 2\n\
         headers = {{ Authorization = \"Bearer ${{{VAR}}}\", Accept = \"application/json\" }}\n{extra}",
        front.url()
    ))
    .expect("test config");
    let roots = if trust { front.ca_pem() } else { "" };
    let client = UpstreamClient::with_extra_roots_pem(roots.as_bytes()).expect("client");
    let endpoint = upstream_proxy::endpoint(NAME, config, &client).expect("endpoint");
    let mut builder = TestApp::builder(endpoint).environment(Some(env));
    if let Some(secret) = secret {
        builder = builder.var(VAR, secret);
    }
    Setup {
        upstream,
        _front: front,
        app: builder.start().await,
    }
}

impl Setup {
    async fn call(&self, body: &str) -> ci_fixtures::Answer {
        let token = self.app.good_token();
        let request =
            axum::http::Request::post(format!("{}?url=https://evil.example/", self.app.path()))
                .header("content-type", "application/json")
                .header("x-github-oidc-token", token)
                .header("authorization", "Bearer caller-chosen")
                .header("x-upstream-path", "/admin")
                .body(axum::body::Body::from(body.to_owned()))
                .expect("request");
        self.app.send(request).await
    }
}

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

/// Answers with every request header it got, as JSON.
struct EchoHeaders;

impl Respond for EchoHeaders {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or_default())))
            .collect();
        // Once plainly and once JSON-escaped, the way a hostile upstream might hide it.
        let escaped: String = SECRET
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let body = format!(
            r#"{{"headers":{},"hidden":"{escaped}"}}"#,
            Value::Object(headers)
        );
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

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
