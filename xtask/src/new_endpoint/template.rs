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

[features]
default = ["aws-lc"]
# The crypto backend (ci-oidc's crypto module), exactly one per build: the server's binary takes
# `aws-lc`, a Vercel function may take `ring`.
aws-lc = ["ci-endpoint/aws-lc"]
ring = ["ci-endpoint/ring"]

[dependencies]
ci-endpoint.workspace = true
axum.workspace = true
serde.workspace = true
serde_json.workspace = true
tracing.workspace = true

[dev-dependencies]
ci-fixtures.workspace = true
tokio.workspace = true

[lints]
workspace = true
"#;

const LIB_RS: &str = r#"//! The `{{NAME}}` CI-in-preview endpoint.
//!
//! Scaffolded by `cargo xtask new-endpoint`. The handler takes a `VerifiedJson<Request>`, which
//! only the kit can construct: by the time it runs, the deployment environment, the OIDC token,
//! this endpoint's entry in `ci-policy.toml` and the body (its type, then `Request::validate`,
//! before a `single_use` token is spent) have all been checked, and every log line of the request
//! carries the endpoint and the caller (repository, run id, …) from the kit's span. Replace the
//! work in `handle` and the body's type. If the endpoint needs a secret, declare it with
//! `Endpoint::with_secret("VAR", parse)` and take a `ci_endpoint::Secret<T>`: the kit reads and
//! checks it at start-up. Keep secrets in the deployment and out of answers and logs.

use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Endpoint, RequestBody, VerifiedJson};
use serde_json::{Map, Value, json};

/// The path under `/api/~/ci/` and the key of the policy entry.
pub const NAME: &str = "{{NAME}}";

/// The body: any JSON object (anything else is a 400). Prefer a struct with
/// `#[serde(deny_unknown_fields)]` once the endpoint knows its fields.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Request(Map<String, Value>);

/// Checks beyond the type, each a 400 with a named reason; they run before a `single_use` token
/// is spent, so a job can fix its request and retry with the same token.
impl RequestBody for Request {
    fn validate(&self, _context: &BodyContext<'_>) -> Result<(), CiError> {
        Ok(())
    }
}

/// The endpoint, listed in `ci_preview_server::builtin_endpoints()`.
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(handle))
}

async fn handle(
    VerifiedJson { caller, body }: VerifiedJson<Request>,
) -> Result<Json<Value>, CiError> {
    let fields = body.0;
    // What the endpoint did, in numbers, goes on the kit's one audit line for this call.
    caller.summarize("fields", fields.len());
    let claims = caller.claims();
    Ok(Json(json!({
        "repository": claims.repository,
        "run_id": claims.run_id,
        "fields": fields.len(),
    })))
}
"#;

const TEST_RS: &str = r##"//! The endpoint behind the real guard chain (`ci_fixtures::TestApp` runs `ci_endpoint::server::app` with
//! a mock OIDC issuer): the refusals first, then the answer.

use ci_fixtures::{DEFAULT_REPOSITORY, TestApp, assert_answer};

async fn app(environment: &str) -> TestApp {
    TestApp::builder({{IDENT}}::endpoint())
        .environment(Some(environment))
        .start()
        .await
}

#[tokio::test]
async fn production_never_serves_it() {
    let app = app("production").await;
    assert_answer(&app.post(Some(&app.good_token()), "{}").await, 404, "Not Found");
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let app = app("preview").await;
    assert_answer(&app.post(None, "{}").await, 401, r#"{"error":"unauthorized"}"#);
}

#[tokio::test]
async fn another_repository_is_forbidden() {
    let app = app("preview").await;
    let token = app.token().claim("repository", "someone/else").build();
    assert_answer(
        &app.post(Some(&token), "{}").await,
        403,
        r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
    );
}

#[tokio::test]
async fn a_verified_caller_gets_an_answer() {
    let app = app("preview").await;
    let answer = app.post(Some(&app.good_token()), r#"{"a":1,"b":2}"#).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["repository"], DEFAULT_REPOSITORY);
    assert_eq!(answer.json()["fields"], 2);
}
"##;

const POLICY_ENTRY: &str = r#"
# Scaffolded by `cargo xtask new-endpoint {{NAME}}`: set the audience to a stable https URL whose
# path is /api/~/ci/{{NAME}} (your production domain's, say; never a preview's URL) and pin the
# same string in the workflow (the action's `audience` input); allow only the repository and
# workflow that need it.
[endpoints."{{NAME}}"]
audience = "https://ci-in-preview.example/api/~/ci/{{NAME}}"
repositories = ["example-org/example-app"]
# Required: `gh api repos/OWNER/REPO --jq '.id, .owner.id'` prints the repository id, then the
# owner id. These are placeholders: replace them with your own.
repository_ids = ["123456789"]
repository_owner_ids = ["987654321"]
workflows = ["example-org/example-app/.github/workflows/ci-in-preview-smoke.yaml"]
"#;

fn fill(template: &str, names: &Names) -> String {
    template
        .replace("{{NAME}}", &names.endpoint)
        .replace("{{CRATE}}", &names.crate_name)
        .replace("{{IDENT}}", &names.ident)
}

/// The crate's files, relative to its folder.
pub(super) fn files(names: &Names) -> Vec<(&'static str, String)> {
    vec![
        ("Cargo.toml", fill(CARGO_TOML, names)),
        ("src/lib.rs", fill(LIB_RS, names)),
        ("tests/endpoint.rs", fill(TEST_RS, names)),
    ]
}

/// The `[endpoints."NAME"]` table appended to `ci-policy.toml`.
pub(super) fn policy_entry(names: &Names) -> String {
    fill(POLICY_ENTRY, names)
}
