#!/bin/sh
# new-endpoint.sh NAME [--destructive]: adds a CI-in-preview endpoint to this project.
#
#   sh scripts/new-endpoint.sh reports/upload
#   sh scripts/new-endpoint.sh cleanup/db --destructive
#
# Creates endpoints/<NAME with / as ->/ (a crate with a guarded handler and tests that start from
# the refusals), adds it to the function's dependencies and its list in api/ci-in-preview.rs, and
# appends its [endpoints."NAME"] entry to ci-policy.toml. --destructive marks the endpoint
# (`.destructive()`) and writes the strict entry the function insists on for it (single_use,
# bind_deployment, repository_ids). Run from the project root; nothing is changed if a step
# cannot apply. Then: edit the handler, fill in the policy entry, `cargo test -p <crate>`.
set -eu

usage() { echo "usage: sh scripts/new-endpoint.sh NAME [--destructive]   (NAME like reports/upload)" >&2; exit 2; }
[ $# -ge 1 ] || usage
name=$1
destructive=false
case "${2:-}" in --destructive) destructive=true ;; "") ;; *) usage ;; esac
[ $# -le 2 ] || usage
if ! printf '%s' "$name" | grep -Eq '^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*$' || [ "$name" = health ]; then
  echo "endpoint name '$name': lower-case segments of a-z, 0-9 and '-' joined by '/', not 'health'" >&2
  exit 2
fi
crate=$(printf '%s' "$name" | tr / -)
ident=$(printf '%s' "$crate" | tr - _)
dir=endpoints/$crate
function=api/ci-in-preview.rs

for file in Cargo.toml ci-policy.toml "$function"; do
  [ -f "$file" ] || { echo "$file not found: run from the project root" >&2; exit 1; }
done
[ ! -e "$dir" ] || { echo "$dir exists already" >&2; exit 1; }
grep -q '^\[dependencies\]$' Cargo.toml || { echo "Cargo.toml has no [dependencies] table" >&2; exit 1; }
grep -q '\.run()' "$function" || { echo "$function: no .run() to add the endpoint before" >&2; exit 1; }
! grep -qF "[endpoints.\"$name\"]" ci-policy.toml || { echo "ci-policy.toml already has $name" >&2; exit 1; }

mark=""
posture=""
if [ "$destructive" = true ]; then
  mark=".destructive()"
  posture='# Destructive: the function refuses to start unless this entry keeps single_use,
# bind_deployment, repository_ids and workflows of this repository. single_use on Vercel needs
# CI_PREVIEW_REDIS_URL (a Redis the instances share).
single_use = true
bind_deployment = true
'
fi

mkdir -p "$dir/src" "$dir/tests"
cat > "$dir/Cargo.toml" <<EOF
[package]
name = "$crate"
version = "0.1.0"
edition.workspace = true
publish.workspace = true

[dependencies]
ci-endpoint.workspace = true
axum.workspace = true
serde.workspace = true
tracing.workspace = true

[dev-dependencies]
ci-fixtures.workspace = true
serde_json.workspace = true
tokio.workspace = true
EOF

cat > "$dir/src/lib.rs" <<EOF
//! The \`$name\` CI-in-preview endpoint (scaffolded by scripts/new-endpoint.sh).
//!
//! The handler takes a \`VerifiedJson<Request>\`, which only the kit can construct: by the time it
//! runs, the deployment environment, the OIDC token, this endpoint's entry in \`ci-policy.toml\`
//! and the body (its type, then \`Request::validate\`, before a \`single_use\` token is spent) have
//! been checked, and every log line carries the endpoint and the caller from the kit's span.
//! Secrets: \`.with_secret("VAR", parse)\` and a \`Secret<T>\` argument; settings from the policy
//! entry: \`.with_config::<T>()\` and a \`Config<T>\` argument (see the kit's docs).

use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Endpoint, RequestBody, VerifiedJson};
use serde::{Deserialize, Serialize};

/// The path under \`/api/~/ci/\` and the key of the policy entry.
pub const NAME: &str = "$name";

/// The body; unknown keys are refused (400).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    message: String,
}

/// Checks of the body beyond its type, each a 400 with a named reason; they run before a
/// \`single_use\` token is spent, so a job can fix its request and retry with the same token.
impl RequestBody for Request {
    fn validate(&self, _context: &BodyContext<'_>) -> Result<(), CiError> {
        if self.message.is_empty() {
            return Err(CiError::BadRequest {
                reason: Some("empty_message"),
            });
        }
        Ok(())
    }
}

/// The answer.
#[derive(Debug, Serialize)]
struct Answer {
    repository: Option<String>,
    length: usize,
}

/// The endpoint, listed in the function's \`main\` (api/ci-in-preview.rs).
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(handle))$mark
}

async fn handle(
    VerifiedJson { caller, body }: VerifiedJson<Request>,
) -> Result<Json<Answer>, CiError> {
    // What the endpoint did, in numbers, goes on the kit's one audit line for this call.
    caller.summarize("length", body.message.len());
    Ok(Json(Answer {
        repository: caller.claims().repository.clone(),
        length: body.message.len(),
    }))
}
EOF

if [ "$destructive" = true ]; then
  policy_keys='    .policy_keys(
            "single_use = true\nbind_deployment = true\nrepository_ids = [\"123456789\"]\n",
        )
        .deployment(ci_endpoint::server::Deployment::from_lookup(
            |name| match name {
                "VERCEL_ENV" => Some("preview".to_owned()),
                "VERCEL_GIT_PULL_REQUEST_ID" => Some(ci_fixtures::DEFAULT_PULL_REQUEST.to_string()),
                "CI_PREVIEW_REPOSITORY_ID" => Some(ci_fixtures::DEFAULT_REPOSITORY_ID.to_owned()),
                _ => None,
            },
        ))
        .environment(Some(environment))'
else
  policy_keys='    .environment(Some(environment))'
fi
cat > "$dir/tests/endpoint.rs" <<EOF
//! The endpoint behind the real guard chain (\`ci_fixtures::TestApp\`, a mock OIDC issuer): the
//! refusals first, then the answer.

use ci_fixtures::{DEFAULT_REPOSITORY, TestApp, assert_answer};

async fn app(environment: &str) -> TestApp {
    TestApp::builder(${ident}::endpoint())
    $policy_keys
        .start()
        .await
}

#[tokio::test]
async fn production_never_serves_it() {
    let app = app("production").await;
    assert_answer(
        &app.post(Some(&app.good_token()), "{}").await,
        404,
        "Not Found",
    );
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let app = app("preview").await;
    assert_answer(
        &app.post(None, "{}").await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
}

#[tokio::test]
async fn another_repository_is_forbidden() {
    let app = app("preview").await;
    let token = app.token().claim("repository", "someone/else").build();
    let answer = app.post(Some(&token), "{}").await;
    assert_answer(
        &answer,
        403,
        r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
    );
}

#[tokio::test]
async fn a_verified_caller_gets_an_answer() {
    let app = app("preview").await;
    let answer = app
        .post(Some(&app.good_token()), r#"{"message":"hello"}"#)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["repository"], DEFAULT_REPOSITORY);
    assert_eq!(answer.json()["length"], 5);
}
EOF

tmp=$(mktemp)
awk -v line="$crate = { path = \"$dir\" }" '{ print } /^\[dependencies\]$/ && !done { print line; done = 1 }' Cargo.toml > "$tmp" && mv "$tmp" Cargo.toml
tmp=$(mktemp)
awk -v line="        .endpoint(${ident}::endpoint())" '/\.run\(\)/ && !done { print line; done = 1 } { print }' "$function" > "$tmp" && mv "$tmp" "$function"
cat >> ci-policy.toml <<EOF

# Scaffolded by scripts/new-endpoint.sh: the audience is any stable https URL ending in
# /api/~/ci/$name (your production domain's, say); pin your repository and workflow by id and path.
[endpoints."$name"]
audience = "https://app.example.com/api/~/ci/$name"
repositories = ["example-org/example-app"]
repository_ids = ["123456789"]
repository_owner_ids = ["987654321"]
workflows = ["example-org/example-app/.github/workflows/e2e.yml"]
$posture
EOF
# The files above are written in rustfmt's default style; a long name can still wrap differently.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt -p "$crate" || echo "note: cargo fmt -p $crate failed; the crate is written, format it by hand" >&2
fi
echo "created $dir for /api/~/ci/$name; next: edit $dir/src/lib.rs, fill in [endpoints.\"$name\"] in ci-policy.toml, cargo test -p $crate"
