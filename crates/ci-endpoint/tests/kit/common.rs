//! The kit's own test endpoint, run through `ci_fixtures::TestApp`: it walks the same rows of the
//! contract as `flags/encrypt-override` (auth, body, a size refusal, a missing secret), so the
//! kit's ordering is tested without that crate.

#![allow(dead_code, unused_imports)]

use axum::{Json, Router, body::Body, http::Request, routing::post};
use ci_endpoint::{
    BodyContext, CiError, Endpoint, RequestBody, Secret, VerifiedJson,
    server::{Deployment, Policy},
};
use ci_fixtures::MockIssuer;
pub(crate) use ci_fixtures::{
    Answer, EndpointRequest, TestApp, assert_answer, send, static_verifier,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub(crate) const ECHO: &str = "test/echo";
pub(crate) const ECHO_PATH: &str = "/api/~/ci/test/echo";
pub(crate) const AUDIENCE: &str = "https://ci.test/api/~/ci/test/echo";
/// The test endpoint's stand-in for the 4096-byte cookie limit.
pub(crate) const ECHO_MAX_ENCODED: usize = 256;
/// The variable holding the echo endpoint's (pretend) secret.
pub(crate) const ECHO_SECRET_VAR: &str = "ECHO_SECRET";
pub(crate) const GOOD_BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

pub(crate) fn policy_toml(issuer: &MockIssuer) -> String {
    issuer.policy_toml(ECHO, AUDIENCE)
}

pub(crate) fn policy(issuer: &MockIssuer) -> Policy {
    Policy::from_toml_str(&policy_toml(issuer)).expect("test policy is valid")
}

#[derive(Deserialize)]
struct EchoRequest {
    flags: Map<String, Value>,
}

/// The size refusal is a body check: it runs before a `single_use` token is spent.
impl RequestBody for EchoRequest {
    fn validate(&self, _context: &BodyContext<'_>) -> Result<(), CiError> {
        let encoded = serde_json::to_string(&self.flags).map_err(|_| CiError::Internal)?;
        if encoded.len() > ECHO_MAX_ENCODED {
            return Err(CiError::BadRequest {
                reason: Some("cookie_too_large"),
            });
        }
        Ok(())
    }
}

async fn echo(
    secret: Secret<String>,
    VerifiedJson { caller, body }: VerifiedJson<EchoRequest>,
) -> Result<Json<Value>, CiError> {
    secret.get()?;
    Ok(Json(json!({
        "repository": caller.claims().repository,
        "flags": body.flags,
    })))
}

/// The echo endpoint, whose secret is `ECHO_SECRET`.
pub(crate) fn echo_endpoint() -> Endpoint {
    Endpoint::new(ECHO, post(echo)).with_secret(ECHO_SECRET_VAR, |text| Ok(text.to_owned()))
}

/// The echo app's builder: `ECHO_SECRET` set when `ready`, deployment `deployment`.
pub(crate) fn echo_app(deployment: Deployment, ready: bool) -> ci_fixtures::TestAppBuilder {
    let app = TestApp::builder(echo_endpoint()).deployment(deployment);
    if ready {
        app.var(ECHO_SECRET_VAR, "echo-secret")
    } else {
        app
    }
}

/// The app for `environment` with the echo endpoint.
pub(crate) async fn app_in(environment: Option<&str>, ready: bool) -> TestApp {
    let deployment = Deployment {
        environment: environment.map(str::to_owned),
        commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
        git_ref: Some("feature/ci".to_owned()),
        pull_request: Some("12".to_owned()),
        ..Deployment::default()
    };
    echo_app(deployment, ready).start().await
}

pub(crate) fn good_token(issuer: &MockIssuer) -> String {
    issuer.token(AUDIENCE).build()
}

/// The echo endpoint's call as the client makes it: `GOOD_BODY` with `token`, if any.
pub(crate) async fn post_echo(app: &Router, token: Option<&str>) -> ci_fixtures::Answer {
    let request = ci_fixtures::EndpointRequest::post(ECHO_PATH).token(token);
    ci_fixtures::send(app, request.body(GOOD_BODY)).await
}
