//! The files `new-endpoint` writes. Kept apart from the command so the generated code reads as
//! code; `{{NAME}}`, `{{CRATE}}` and `{{IDENT}}` are filled in from [`Names`].

use super::Names;

const CARGO_TOML: &str = r#"[package]
name = "{{CRATE}}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
ci-endpoint.workspace = true
axum.workspace = true
serde_json.workspace = true
tracing.workspace = true

[dev-dependencies]
ci-fixtures.workspace = true
ci-oidc.workspace = true
http-body-util.workspace = true
tokio.workspace = true
tower.workspace = true

[lints]
workspace = true
"#;

const LIB_RS: &str = r#"//! The `{{NAME}}` CI-in-preview endpoint.
//!
//! Scaffolded by `cargo xtask new-endpoint`. The handler takes a `VerifiedCaller`, which only the
//! kit can construct: by the time it runs, the deployment environment, the OIDC token and this
//! endpoint's entry in `ci-policy.toml` have all been checked, and every log line of the request
//! carries the endpoint and the caller (repository, run id, …) from the kit's span. Replace the
//! work in `handle`. If the endpoint needs a secret, declare it with
//! `Endpoint::with_secret("VAR", parse)` and take a `ci_endpoint::Secret<T>`: the kit reads and
//! checks it at start-up. Keep secrets in the deployment and out of answers and logs.

use axum::{Json, routing::post};
use ci_endpoint::{CiError, Endpoint, JsonBody, VerifiedCaller};
use serde_json::{Value, json};

/// The path under `/api/~/ci/` and the key of the policy entry.
pub const NAME: &str = "{{NAME}}";

/// The endpoint, ready to be listed in the server's `endpoints()`.
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(handle))
}

async fn handle(
    caller: VerifiedCaller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, CiError> {
    let Value::Object(fields) = body else {
        return Err(CiError::bad_request());
    };
    tracing::info!(fields = fields.len(), "request served");
    let claims = caller.claims();
    Ok(Json(json!({
        "repository": claims.repository,
        "run_id": claims.run_id,
        "fields": fields.len(),
    })))
}
"#;

const TEST_RS: &str = r##"//! The endpoint behind the real guard chain (`ci_endpoint::app`), with a mock OIDC issuer:
//! the refusals first, then the answer.

use axum::{Router, body::Body, http::Request};
use ci_endpoint::{Deployment, Policy};
use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, MockIssuer};
use ci_oidc::{KeyStore, Verifier};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const PATH: &str = "/api/~/ci/{{NAME}}";
const AUDIENCE: &str = "https://ci.test/api/~/ci/{{NAME}}";

async fn app(environment: &str) -> (MockIssuer, Router) {
    let issuer = MockIssuer::start().await;
    let policy = Policy::from_toml_str(&format!(
        "[issuer]\nurl = {url:?}\n\n[endpoints.{name:?}]\naudience = {AUDIENCE:?}\n\
         repositories = [{DEFAULT_REPOSITORY:?}]\nworkflows = [{DEFAULT_WORKFLOW:?}]\n",
        url = issuer.issuer_url(),
        name = {{IDENT}}::NAME,
    ))
    .expect("policy");
    let keys = KeyStore::from_jwks_json(issuer.jwks_json().as_bytes()).expect("keys");
    let deployment = Deployment {
        environment: Some(environment.to_owned()),
        ..Deployment::default()
    };
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    let router = ci_endpoint::app(policy, deployment, verifier, vec![{{IDENT}}::endpoint()])
        .expect("app");
    (issuer, router)
}

async fn post(router: Router, token: Option<&str>, body: &str) -> (u16, String) {
    let mut request = Request::post(PATH).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("x-github-oidc-token", token);
    }
    let response = router
        .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn production_never_serves_it() {
    let (issuer, router) = app("production").await;
    let token = issuer.token(AUDIENCE).build();
    assert_eq!(post(router, Some(&token), "{}").await, (404, "Not Found".to_owned()));
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let (_issuer, router) = app("preview").await;
    let (status, body) = post(router, None, "{}").await;
    assert_eq!((status, body.as_str()), (401, r#"{"error":"unauthorized"}"#));
}

#[tokio::test]
async fn another_repository_is_forbidden() {
    let (issuer, router) = app("preview").await;
    let token = issuer.token(AUDIENCE).claim("repository", "someone/else").build();
    let (status, body) = post(router, Some(&token), "{}").await;
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"error":"forbidden","reason":"repo_mismatch"}"#)
    );
}

#[tokio::test]
async fn a_verified_caller_gets_an_answer() {
    let (issuer, router) = app("preview").await;
    let token = issuer.token(AUDIENCE).build();
    let (status, body) = post(router, Some(&token), r#"{"a":1,"b":2}"#).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["repository"], DEFAULT_REPOSITORY);
    assert_eq!(answer["fields"], 2);
}
"##;

const POLICY_ENTRY: &str = r#"
# Scaffolded by `cargo xtask new-endpoint {{NAME}}`: set the audience to this endpoint's URL on
# your app, and allow only the repository and workflow that need it.
[endpoints."{{NAME}}"]
audience = "https://ci-in-preview.example/api/~/ci/{{NAME}}"
repositories = ["example-org/example-app"]
workflows = ["example-org/example-app/.github/workflows/ci-in-preview-smoke.yaml"]
"#;

fn fill(template: &str, names: &Names) -> String {
    template
        .replace("{{NAME}}", &names.endpoint)
        .replace("{{CRATE}}", &names.crate_name)
        .replace("{{IDENT}}", &names.ident)
}

/// The crate's files, relative to its folder.
pub fn files(names: &Names) -> Vec<(&'static str, String)> {
    vec![
        ("Cargo.toml", fill(CARGO_TOML, names)),
        ("src/lib.rs", fill(LIB_RS, names)),
        ("tests/endpoint.rs", fill(TEST_RS, names)),
    ]
}

/// The `[endpoints."NAME"]` table appended to `ci-policy.toml`.
pub fn policy_entry(names: &Names) -> String {
    fill(POLICY_ENTRY, names)
}
