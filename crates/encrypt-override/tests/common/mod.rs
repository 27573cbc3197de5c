//! Set-up shared by the endpoint tests: the real kit (`ci_endpoint::app`) around this crate's
//! endpoint, a mock issuer, a policy naming both, and helpers to send a request in-process.

#![allow(dead_code)]

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
};
use ci_endpoint::{AppOptions, Deployment, Policy, StartupError};
use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, MockIssuer};
use ci_oidc::{KeyStore, Verifier};
use encrypt_override::{FlagsSecret, NAME, SECRET_VAR};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const PATH: &str = "/api/~/ci/flags/encrypt-override";
pub const AUDIENCE: &str = "https://ci.test/api/~/ci/flags/encrypt-override";
pub const SECRET: &str = "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g";
pub const GOOD_BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

pub fn secret() -> FlagsSecret {
    FlagsSecret::parse(SECRET).expect("test secret")
}

pub fn policy(issuer: &MockIssuer) -> Policy {
    policy_with(issuer, "")
}

/// The test policy with `extra` lines appended to the endpoint's table (e.g. `cookie_max_age = 600`).
pub fn policy_with(issuer: &MockIssuer, extra: &str) -> Policy {
    Policy::from_toml_str(&format!(
        r#"[issuer]
url = "{url}"
jwks_url = "{jwks}"

[endpoints."{NAME}"]
audience = "{AUDIENCE}"
repositories = ["{DEFAULT_REPOSITORY}"]
workflows = ["{DEFAULT_WORKFLOW}"]
{extra}
"#,
        url = issuer.issuer_url(),
        jwks = issuer.jwks_url(),
    ))
    .expect("test policy is valid")
}

/// The server's router in `environment`, with `FLAGS_SECRET` set to `secret` (or unset).
pub async fn app_in(environment: Option<&str>, secret: Option<&str>) -> (MockIssuer, Router) {
    app_with_policy(environment, secret, "").await
}

/// [`app_in`] with `extra` lines in the endpoint's policy table.
pub async fn app_with_policy(
    environment: Option<&str>,
    secret: Option<&str>,
    extra: &str,
) -> (MockIssuer, Router) {
    let issuer = MockIssuer::start().await;
    let router = build(&issuer, environment, secret, extra).expect("app builds");
    (issuer, router)
}

/// The server's router, or the start-up error, with `FLAGS_SECRET` set to `secret` (or unset).
pub fn app_with_secret(
    issuer: &MockIssuer,
    environment: Option<&str>,
    secret: Option<&str>,
) -> Result<Router, StartupError> {
    build(issuer, environment, secret, "")
}

fn build(
    issuer: &MockIssuer,
    environment: Option<&str>,
    secret: Option<&str>,
    extra: &str,
) -> Result<Router, StartupError> {
    let keys = KeyStore::from_jwks_json(issuer.jwks_json().as_bytes()).expect("mock JWKS parses");
    let deployment = Deployment {
        environment: environment.map(str::to_owned),
        ..Deployment::default()
    };
    ci_endpoint::app_with(
        policy_with(issuer, extra),
        deployment,
        Verifier::new(issuer.issuer_url(), keys),
        vec![encrypt_override::endpoint()],
        AppOptions::default().with_env(secret.map(|s| (SECRET_VAR, s))),
    )
}

pub fn good_token(issuer: &MockIssuer) -> String {
    issuer.token(AUDIENCE).build()
}

pub fn post(token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(PATH).header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("x-github-oidc-token", token);
    }
    builder.body(body.into()).expect("request builds")
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

/// Asserts the status and the exact body bytes of the contract.
#[track_caller]
pub fn assert_answer(answer: &Answer, status: u16, body: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (status, body),
        "{answer:?}"
    );
}

/// `{"k":"xxx…"}` whose JSON is exactly `json_len` bytes.
pub fn flags_of_json_len(json_len: usize) -> String {
    format!(r#"{{"k":"{}"}}"#, "x".repeat(json_len - 8))
}
