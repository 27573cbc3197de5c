//! Policy loading and the app's start-up checks: every refusal names the key at fault.

use crate::common::*;
use ci_endpoint::server::{Deployment, Policy, PolicyError, StartupError};

const GOOD: &str = r#"
[issuer]
url = "https://token.actions.githubusercontent.com"

[endpoints."flags/encrypt-override"]
audience = "https://app.example/api/~/ci/flags/encrypt-override"
repositories = ["octo-org/octo-repo"]
repository_owner_ids = ["987654321"]
workflows = ["octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml"]
"#;

fn error_of(text: &str) -> String {
    Policy::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn a_good_policy_and_its_defaults() {
    let policy = Policy::from_toml_str(GOOD).unwrap();
    assert_eq!(policy.serve_in(), ["preview", "development"]);
    assert_eq!(
        policy.issuer().url,
        "https://token.actions.githubusercontent.com"
    );
    let entry = policy.endpoint("flags/encrypt-override").unwrap();
    assert!(entry.events.is_none());
    assert!(!entry.single_use && !entry.bind_deployment);
    assert_eq!(entry.cookie_max_age, 7200);
    // The digest is of the exact bytes: a comment changes it.
    let other = Policy::from_toml_str(&format!("# reviewed\n{GOOD}")).unwrap();
    assert_ne!(policy.sha256_hex(), other.sha256_hex());
    assert!(
        policy
            .sha256_hex()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn the_checked_in_policy_is_valid() {
    let policy = Policy::from_toml_str(include_str!("../../../../ci-policy.toml")).unwrap();
    let entry = policy.endpoint("flags/encrypt-override").unwrap();
    assert!(entry.audience.ends_with("/api/~/ci/flags/encrypt-override"));
    assert_eq!(policy.serve_in(), ["preview", "development"]);
}

#[test]
fn owner_ids_are_required_and_the_error_says_how_to_find_them() {
    let unpinned = GOOD.replace("repository_owner_ids = [\"987654321\"]\n", "");
    let error = error_of(&unpinned);
    assert!(
        error.starts_with(
            r#"invalid policy: endpoints."flags/encrypt-override".repository_owner_ids: required"#
        ),
        "{error}"
    );
    assert!(
        error.contains("gh api repos/OWNER/REPO --jq '.id, .owner.id'"),
        "{error}"
    );
}

#[test]
fn cookie_max_age_is_bounded_and_named() {
    for (value, ok) in [
        ("60", true),
        ("86400", true),
        ("59", false),
        ("86401", false),
    ] {
        let text = format!("{GOOD}cookie_max_age = {value}\n");
        match Policy::from_toml_str(&text) {
            Ok(policy) => {
                assert!(ok, "{value}");
                let entry = policy.endpoint("flags/encrypt-override").unwrap();
                assert_eq!(entry.cookie_max_age.to_string(), value);
            }
            Err(error) => {
                assert!(!ok, "{value}: {error}");
                assert!(
                    error
                        .to_string()
                        .contains(r#"endpoints."flags/encrypt-override".cookie_max_age: "#),
                    "{error}"
                );
            }
        }
    }
    assert!(error_of(&format!("{GOOD}cookie_max_age = -5\n")).contains("cookie_max_age"));
}

#[test]
fn endpoint_errors_name_the_key() {
    let empty = GOOD.replace(
        r#"workflows = ["octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml"]"#,
        "workflows = []",
    );
    assert_eq!(
        error_of(&empty),
        r#"invalid policy: endpoints."flags/encrypt-override".workflows: must not be empty"#
    );
    let pinned = GOOD.replace(
        "ci-in-preview-smoke.yaml\"",
        "ci-in-preview-smoke.yaml@main\"",
    );
    assert!(error_of(&pinned).contains(r#"endpoints."flags/encrypt-override".workflows[0]: "#));
    let bad_ids = format!("{GOOD}repository_ids = [\"12x\"]\n");
    assert!(
        error_of(&bad_ids).contains(r#"endpoints."flags/encrypt-override".repository_ids[0]: "#)
    );
}

#[test]
fn syntax_errors_name_the_key() {
    let missing = GOOD.replace(
        "workflows = [\"octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml\"]\n",
        "",
    );
    assert!(
        error_of(&missing).contains("workflows"),
        "{}",
        error_of(&missing)
    );
    let unknown = format!("{GOOD}audiance = \"x\"\n");
    assert!(
        error_of(&unknown).contains("audiance"),
        "{}",
        error_of(&unknown)
    );
    let top_unknown = format!("serve_inn = [\"preview\"]\n{GOOD}");
    assert!(error_of(&top_unknown).contains("serve_inn"));
    let wrong_type = GOOD.replace(
        r#"repositories = ["octo-org/octo-repo"]"#,
        r#"repositories = "octo-org/octo-repo""#,
    );
    assert!(
        error_of(&wrong_type).contains("repositories"),
        "{}",
        error_of(&wrong_type)
    );
    assert!(error_of("not toml at all [").starts_with("invalid policy: "));
    assert!(error_of("").contains("issuer"));
}

#[test]
fn serve_in_and_issuer_errors_name_the_key() {
    let production = format!("serve_in = [\"preview\", \"production\"]\n{GOOD}");
    assert!(error_of(&production).starts_with("invalid policy: serve_in: "));
    let http = GOOD.replace(
        "https://token.actions.githubusercontent.com",
        "http://token.example",
    );
    assert!(
        error_of(&http).starts_with("invalid policy: issuer.url: "),
        "{}",
        error_of(&http)
    );
    let bad_name = GOOD.replace(
        r#"[endpoints."flags/encrypt-override"]"#,
        r#"[endpoints."Flags/X"]"#,
    );
    assert!(error_of(&bad_name).starts_with(r#"invalid policy: endpoints."Flags/X": "#));
    assert!(matches!(
        Policy::from_toml_str(&production),
        Err(PolicyError::Invalid { .. })
    ));
}

#[tokio::test]
async fn an_endpoint_without_a_policy_entry_is_not_served() {
    // The policy opts endpoints in: the server carries every endpoint crate, and one the policy
    // does not name has no callers to verify against, so it is not mounted (fail closed).
    let issuer = ci_fixtures::MockIssuer::start().await;
    let unlisted =
        ci_endpoint::Endpoint::new("test/unlisted", axum::routing::post(|| async { "served" }));
    let app = ci_endpoint::server::app(
        Policy::from_toml_str(&policy_toml(&issuer)).unwrap(),
        Deployment::in_environment("preview"),
        static_verifier(&issuer),
        vec![echo_endpoint(), unlisted],
    )
    .expect("starts, serving only what the policy names");
    let token = issuer.token(AUDIENCE).build();
    let request = EndpointRequest::post("/api/~/ci/test/unlisted")
        .token(Some(&token))
        .body("{}");
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let health = axum::http::Request::get("/api/~/ci/health")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app, health).await.unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains(ECHO) && !body.contains("test/unlisted"),
        "{body}"
    );
}

#[tokio::test]
async fn a_policy_naming_none_of_the_endpoints_stops_start_up() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let policy = Policy::from_toml_str(&policy_toml(&issuer).replace(ECHO, "test/other")).unwrap();
    let error = ci_endpoint::server::app(
        policy,
        Deployment::in_environment("production"),
        static_verifier(&issuer),
        vec![echo_endpoint()],
    )
    .unwrap_err();
    assert!(matches!(error, StartupError::NoEndpointServed { .. }));
    assert!(error.to_string().contains(ECHO), "{error}");
}

#[tokio::test]
async fn duplicate_and_unsupported_endpoints_are_refused() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let error = ci_endpoint::server::app(
        policy(&issuer),
        Deployment::in_environment("preview"),
        static_verifier(&issuer),
        vec![echo_endpoint(), echo_endpoint()],
    )
    .unwrap_err();
    assert!(matches!(
        error,
        StartupError::DuplicateEndpoint { name: ECHO }
    ));

    // The guard switches are enforced (`single_use.rs`, `binding.rs` beside this file), so they build.
    let text = format!(
        "{}single_use = true\nbind_deployment = true\n",
        policy_toml(&issuer)
    );
    let _router = ci_endpoint::server::app(
        Policy::from_toml_str(&text).unwrap(),
        Deployment::in_environment("preview"),
        static_verifier(&issuer),
        vec![echo_endpoint()],
    )
    .unwrap();
}

#[tokio::test]
async fn overlapping_endpoint_names_both_route() {
    use axum::routing::post;
    use ci_endpoint::Endpoint;
    let issuer = ci_fixtures::MockIssuer::start().await;
    let text = format!(
        "{}\n[endpoints.\"test\"]\naudience = \"https://ci.test/api/~/ci/test\"\nrepositories = [\"octo-org/octo-repo\"]\nrepository_owner_ids = [\"987654321\"]\nworkflows = [\"{}\"]\n",
        policy_toml(&issuer),
        ci_fixtures::DEFAULT_WORKFLOW
    );
    let parent = Endpoint::new("test", post(|| async { "parent" }));
    let app = ci_endpoint::server::app(
        Policy::from_toml_str(&text).unwrap(),
        Deployment::in_environment("preview"),
        static_verifier(&issuer),
        vec![parent, echo_endpoint()],
    )
    .unwrap();
    let request = axum::http::Request::post("/api/~/ci/test")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_answer(&send(&app, request).await, 200, "parent");
    assert_answer(
        &post_echo(&app, None).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
}
