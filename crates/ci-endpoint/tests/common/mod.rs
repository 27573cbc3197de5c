//! Shared set-up for the kit's integration tests: a mock issuer, a policy naming it, and a small
//! test endpoint that walks the same rows of the contract as `flags/encrypt-override` (auth,
//! body, a size refusal, a missing secret), so the kit's ordering is tested without that crate.

#![allow(dead_code)]

use axum::{
    Json, Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
    routing::post,
};
use ci_endpoint::{
    AppOptions, CiError, Deployment, Endpoint, JsonBody, Policy, Secret, VerifiedCaller,
};
use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, MockIssuer};
use ci_oidc::{KeyStore, Verifier};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

pub const ECHO: &str = "test/echo";
pub const ECHO_PATH: &str = "/api/~/ci/test/echo";
pub const AUDIENCE: &str = "https://ci.test/api/~/ci/test/echo";
/// The test endpoint's stand-in for the 4096-byte cookie limit.
pub const ECHO_MAX_ENCODED: usize = 256;

pub fn policy_toml(issuer: &MockIssuer) -> String {
    format!(
        r#"[issuer]
url = "{url}"
jwks_url = "{jwks}"

[endpoints."{ECHO}"]
audience = "{AUDIENCE}"
repositories = ["{DEFAULT_REPOSITORY}"]
workflows = ["{DEFAULT_WORKFLOW}"]
"#,
        url = issuer.issuer_url(),
        jwks = issuer.jwks_url(),
    )
}

pub fn policy(issuer: &MockIssuer) -> Policy {
    Policy::from_toml_str(&policy_toml(issuer)).expect("test policy is valid")
}

/// A verifier with the issuer's current keys loaded statically: no fetch in the request path.
pub fn static_verifier(issuer: &MockIssuer) -> Verifier {
    let keys = KeyStore::from_jwks_json(issuer.jwks_json().as_bytes()).expect("mock JWKS parses");
    Verifier::new(issuer.issuer_url(), keys)
}

#[derive(Deserialize)]
struct EchoRequest {
    flags: Map<String, Value>,
}

/// The variable holding the echo endpoint's (pretend) secret.
pub const ECHO_SECRET_VAR: &str = "ECHO_SECRET";

async fn echo(
    caller: VerifiedCaller,
    secret: Secret<String>,
    JsonBody(body): JsonBody<EchoRequest>,
) -> Result<Json<Value>, CiError> {
    let encoded = serde_json::to_string(&body.flags).map_err(|_| CiError::Internal)?;
    if encoded.len() > ECHO_MAX_ENCODED {
        return Err(CiError::BadRequest {
            reason: Some("cookie_too_large"),
        });
    }
    secret.get()?;
    Ok(Json(json!({
        "repository": caller.claims().repository,
        "flags": body.flags,
    })))
}

/// The echo endpoint, whose secret is `ECHO_SECRET`.
pub fn echo_endpoint() -> Endpoint {
    Endpoint::new(ECHO, post(echo)).with_secret(ECHO_SECRET_VAR, |text| Ok(text.to_owned()))
}

/// App options whose environment holds the echo secret when `ready`.
pub fn echo_options(ready: bool) -> AppOptions {
    let vars: &[(&str, &str)] = if ready {
        &[(ECHO_SECRET_VAR, "echo-secret")]
    } else {
        &[]
    };
    AppOptions::default().with_env(vars.iter().copied())
}

/// The app for `environment` with the echo endpoint.
pub async fn app_in(environment: Option<&str>, ready: bool) -> (MockIssuer, Router) {
    let issuer = MockIssuer::start().await;
    let deployment = Deployment {
        environment: environment.map(str::to_owned),
        commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
        git_ref: Some("feature/ci".to_owned()),
        pull_request: Some("12".to_owned()),
    };
    let router = ci_endpoint::app_with(
        policy(&issuer),
        deployment,
        static_verifier(&issuer),
        vec![echo_endpoint()],
        echo_options(ready),
    )
    .expect("app builds");
    (issuer, router)
}

pub fn good_token(issuer: &MockIssuer) -> String {
    issuer.token(AUDIENCE).build()
}

pub const GOOD_BODY: &str = r#"{"flags":{"ciInPreviewSmoke":true}}"#;

pub fn post_request(token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(ECHO_PATH).header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("x-github-oidc-token", token);
    }
    builder.body(body.into()).expect("request builds")
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

/// Asserts status and exact body.
#[track_caller]
pub fn assert_answer(answer: &Answer, status: u16, body: &str) {
    assert_eq!(answer.status.as_u16(), status, "body was {}", answer.body);
    assert_eq!(answer.body, body);
}
