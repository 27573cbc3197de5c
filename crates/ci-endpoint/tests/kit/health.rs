//! `GET /api/~/ci/health`: the exact shape the client relies on, and its absence where CI
//! routes are not served.

use crate::common::*;
use axum::{body::Body, http::Request};
use ci_endpoint::server::{Deployment, Policy};
use serde_json::{Value, json};

fn health_request() -> Request<Body> {
    Request::get("/api/~/ci/health")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn health_has_the_contract_shape_in_order() {
    let app = app_in(Some("preview"), true).await;
    let answer = app.send(health_request()).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let sha = Policy::from_toml_str(app.policy_toml())
        .unwrap()
        .sha256_hex()
        .to_owned();
    let expected = format!(
        r#"{{"status":"ok","environment":"preview","commit":"0123456789abcdef0123456789abcdef01234567","ref":"feature/ci","pull_request":"12","policy_sha256":"{sha}","endpoints":[{{"name":"test/echo","path":"/api/~/ci/test/echo","audience":"{AUDIENCE}","ready":true}}]}}"#
    );
    assert_eq!(answer.body, expected);
    assert_eq!(sha.len(), 64);
}

#[tokio::test]
async fn health_reports_nulls_and_unready_endpoints() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let app = echo_app(Deployment::in_environment("development"), false)
        .router_for(&issuer)
        .unwrap();
    let answer = send(&app, health_request()).await;
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["environment"], "development");
    assert_eq!(body["commit"], Value::Null);
    assert_eq!(body["ref"], Value::Null);
    assert_eq!(body["pull_request"], Value::Null);
    assert_eq!(
        body["endpoints"],
        json!([{"name": ECHO, "path": ECHO_PATH, "audience": AUDIENCE, "ready": false}])
    );
}

#[tokio::test]
async fn health_needs_no_token_and_head_works() {
    let app = app_in(Some("preview"), true).await;
    let head = Request::head("/api/~/ci/health")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(head).await.status.as_u16(), 200);
    let post = Request::post("/api/~/ci/health")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(post).await.status.as_u16(), 405);
}

#[tokio::test]
async fn health_is_404_where_not_served() {
    for env in [Some("production"), None] {
        let app = app_in(env, true).await;
        assert_answer(&app.send(health_request()).await, 404, "Not Found");
    }
}
