//! `bind_deployment = true` through the kit's extractor: each branch of the rule (pull request,
//! branch, neither) with a token that belongs and tokens that do not, the refusal logged with
//! what was expected and what came. The rule itself is unit-tested in `src/binding.rs`.

use crate::common::*;
use crate::guards_support::*;
use ci_endpoint::server::Deployment;
use ci_fixtures::DEFAULT_WORKFLOW;

const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
const BOUND: &str = "bind_deployment = true\n";
/// The default token's `head_ref`.
const BRANCH: &str = "feature/preview-smoke";

#[tokio::test]
async fn pull_request_deployment_takes_only_its_own_pull_request() {
    let app = guarded_app(BOUND, pr_deployment(Some("12"), Some(BRANCH)), None).await;
    let (logs, _guard) = Capture::start();

    // The default token is a pull_request run of PR 12.
    let answer = app.post(Some(&app.good_token()), GOOD_BODY).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let other_pr = app
        .token()
        .claim("ref", "refs/pull/13/merge")
        .claim(
            "workflow_ref",
            format!("{DEFAULT_WORKFLOW}@refs/pull/13/merge"),
        )
        .build();
    let push = app.token().push_to(BRANCH).build();
    for token in [other_pr, push] {
        assert_answer(&app.post(Some(&token), GOOD_BODY).await, 401, UNAUTHORIZED);
    }
    let text = logs.text();
    assert_eq!(
        text.matches("reason=\"deployment_mismatch\"").count(),
        2,
        "{text}"
    );
    assert!(text.contains(r#"actual="refs/pull/13/merge""#), "{text}");
    assert!(text.contains("refs/pull/12/merge"), "{text}");
}

#[tokio::test]
async fn branch_deployment_takes_pull_requests_from_it_and_pushes_to_it() {
    let app = guarded_app(BOUND, pr_deployment(None, Some(BRANCH)), None).await;
    let (logs, _guard) = Capture::start();

    let from_branch = app.good_token();
    let push = app.token().push_to(BRANCH).build();
    for token in [from_branch, push] {
        let answer = app.post(Some(&token), GOOD_BODY).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    let other_branch_pr = app.token().claim("head_ref", "feature/other").build();
    let push_elsewhere = app.token().push_to("main").build();
    for token in [other_branch_pr, push_elsewhere] {
        assert_answer(&app.post(Some(&token), GOOD_BODY).await, 401, UNAUTHORIZED);
    }
    let text = logs.text();
    assert_eq!(
        text.matches("reason=\"deployment_mismatch\"").count(),
        2,
        "{text}"
    );
    assert!(text.contains("refs/heads/main"), "{text}");
}

#[tokio::test]
async fn a_deployment_knowing_neither_refuses_bound_endpoints_only() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let (logs, _guard) = Capture::start();
    let bound = guarded(BOUND, Deployment::in_environment("preview"), None)
        .router_for(&issuer)
        .expect("app builds");
    // Start-up warns that every call will be refused.
    assert!(
        logs.text()
            .contains("every call to this endpoint will be refused")
    );
    for token in [
        good_token(&issuer),
        issuer.token(AUDIENCE).push_to("main").build(),
    ] {
        assert_answer(&post_echo(&bound, Some(&token)).await, 401, UNAUTHORIZED);
    }
    assert!(logs.text().contains("fail closed"));

    let unbound = guarded("", Deployment::in_environment("preview"), None)
        .router_for(&issuer)
        .expect("app builds");
    assert_eq!(
        post_echo(&unbound, Some(&good_token(&issuer))).await.status,
        200
    );
}

#[tokio::test]
async fn binding_comes_after_the_token_checks() {
    // A token that fails verification is refused for that reason, not reported as a mismatch,
    // and a wrong repository keeps its 403.
    let app = guarded_app(BOUND, pr_deployment(Some("99"), None), None).await;
    let (logs, _guard) = Capture::start();
    let expired = app.token().expired().build();
    assert_answer(
        &app.post(Some(&expired), GOOD_BODY).await,
        401,
        UNAUTHORIZED,
    );
    let repo = app.token().claim("repository", "evil/repo").build();
    assert_eq!(app.post(Some(&repo), GOOD_BODY).await.status, 403);
    assert!(!logs.text().contains("deployment_mismatch"));
}
