//! Set-up shared by the endpoint tests: `ci_fixtures::TestApp` around this crate's endpoint, with
//! `FLAGS_SECRET` set to the test secret (or unset).

#![allow(dead_code, unused_imports)]

use axum::Router;
use ci_endpoint::server::StartupError;
pub(crate) use ci_fixtures::{Answer, MockIssuer, TestApp, TestAppBuilder, assert_answer, send};
use encrypt_override::{FlagsSecret, SECRET_VAR};

pub(crate) const PATH: &str = "/api/~/ci/flags/encrypt-override";
pub(crate) const AUDIENCE: &str = "https://ci.test/api/~/ci/flags/encrypt-override";
pub(crate) const SECRET: &str = "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g";
pub(crate) const GOOD_BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

pub(crate) fn secret() -> FlagsSecret {
    FlagsSecret::parse(SECRET).expect("test secret")
}

/// The app in `environment`, with `FLAGS_SECRET` set to `secret` (or unset).
pub(crate) async fn app_in(environment: Option<&str>, secret: Option<&str>) -> TestApp {
    builder(environment, secret).start().await
}

/// The server's router, or the start-up error, with `FLAGS_SECRET` set to `secret` (or unset).
pub(crate) fn app_with_secret(
    issuer: &MockIssuer,
    environment: Option<&str>,
    secret: Option<&str>,
) -> Result<Router, StartupError> {
    builder(environment, secret).router_for(issuer)
}

fn builder(environment: Option<&str>, secret: Option<&str>) -> TestAppBuilder {
    let app = TestApp::builder(encrypt_override::endpoint()).environment(environment);
    match secret {
        Some(secret) => app.var(SECRET_VAR, secret),
        None => app,
    }
}

/// `{"k":"xxx…"}` whose JSON is exactly `json_len` bytes.
pub(crate) fn flags_of_json_len(json_len: usize) -> String {
    format!(r#"{{"k":"{}"}}"#, "x".repeat(json_len - 8))
}
