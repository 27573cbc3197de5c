//! Set-up shared by the endpoint tests: `ci_fixtures::TestApp` around this crate's endpoint, with
//! `FLAGS_SECRET` set to the test secret (or unset).

#![allow(dead_code, unused_imports)]

use axum::{Router, body::Body, http::Request};
use ci_endpoint::server::{Deployment, StartupError};
pub(crate) use ci_fixtures::{Answer, MockIssuer, TestApp, assert_answer, send};
use encrypt_override::{FlagsSecret, SECRET_VAR};

pub(crate) const PATH: &str = "/api/~/ci/flags/encrypt-override";
pub(crate) const AUDIENCE: &str = "https://ci.test/api/~/ci/flags/encrypt-override";
pub(crate) const SECRET: &str = "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g";
pub(crate) const GOOD_BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

pub(crate) fn secret() -> FlagsSecret {
    FlagsSecret::parse(SECRET).expect("test secret")
}

/// The server's router in `environment`, with `FLAGS_SECRET` set to `secret` (or unset).
pub(crate) async fn app_in(
    environment: Option<&str>,
    secret: Option<&str>,
) -> (MockIssuer, Router) {
    let issuer = MockIssuer::start().await;
    let router = app_with_secret(&issuer, environment, secret).expect("app builds");
    (issuer, router)
}

/// The server's router, or the start-up error, with `FLAGS_SECRET` set to `secret` (or unset).
pub(crate) fn app_with_secret(
    issuer: &MockIssuer,
    environment: Option<&str>,
    secret: Option<&str>,
) -> Result<Router, StartupError> {
    let deployment = Deployment {
        environment: environment.map(str::to_owned),
        ..Deployment::default()
    };
    let mut app = TestApp::builder(encrypt_override::endpoint()).deployment(deployment);
    if let Some(secret) = secret {
        app = app.var(SECRET_VAR, secret);
    }
    app.router_for(issuer)
}

pub(crate) fn good_token(issuer: &MockIssuer) -> String {
    issuer.token(AUDIENCE).build()
}

pub(crate) fn post(token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(PATH).header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("x-github-oidc-token", token);
    }
    builder.body(body.into()).expect("request builds")
}

/// `{"k":"xxx…"}` whose JSON is exactly `json_len` bytes.
pub(crate) fn flags_of_json_len(json_len: usize) -> String {
    format!(r#"{{"k":"{}"}}"#, "x".repeat(json_len - 8))
}
