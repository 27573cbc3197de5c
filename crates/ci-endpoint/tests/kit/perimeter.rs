//! The perimeter through the whole app: a platform's production signal wins over
//! `CI_PREVIEW_ENV` (404 and an ERROR line at start-up), a Vercel custom environment or a
//! Railway environment is matched by its own name (an unnamed one fails closed), an encoded `~` reaches the same routes, and deployment binding refuses the
//! same pull request number of another allowed repository.

use std::collections::HashMap;

use crate::common::*;
use crate::guards_support::*;
use axum::{body::Body, http::Request};
use ci_endpoint::server::Deployment;

fn deployment(vars: &[(&str, &str)]) -> Deployment {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    Deployment::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn vercel_production_is_404_whatever_ci_preview_env_says() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    for vars in [
        &[("VERCEL_ENV", "production"), ("CI_PREVIEW_ENV", "preview")][..],
        &[
            ("VERCEL_ENV", "preview"),
            ("VERCEL_TARGET_ENV", "production"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
    ] {
        let (logs, _guard) = Capture::start();
        let app = guarded("", deployment(vars), None)
            .router_for(&issuer)
            .expect("app builds");
        let text = logs.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("production signal always wins"), "{text}");
        assert_answer(&send(&app, get("/api/~/ci/health")).await, 404, "Not Found");
        let answer = post_echo(&app, Some(&good_token(&issuer))).await;
        assert_answer(&answer, 404, "Not Found");
        assert_answer(
            &send(&app, get("/api/%7E/ci/health")).await,
            404,
            "Not Found",
        );
    }
}

#[tokio::test]
async fn a_vercel_custom_environment_is_not_served_as_preview() {
    let staging = deployment(&[("VERCEL_ENV", "preview"), ("VERCEL_TARGET_ENV", "staging")]);
    let app = guarded_app("", staging, None).await;
    assert_answer(&app.send(get("/api/~/ci/health")).await, 404, "Not Found");
}

/// PLATFORMS.md had `CI_PREVIEW_ENV=preview` set on Railway's production, copied into every
/// environment forked from it: a `staging` fork or a production renamed `prod` served CI routes,
/// and so did `VERCEL=1` without an environment name.
#[test]
fn a_platforms_own_environment_name_decides_and_an_unnamed_one_fails_closed() {
    let serve_in = ["preview".to_owned(), "development".to_owned()];
    for vars in [
        &[
            ("RAILWAY_ENVIRONMENT_NAME", "staging"),
            ("CI_PREVIEW_ENV", "preview"),
        ][..],
        &[
            ("RAILWAY_ENVIRONMENT_NAME", "prod"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
        &[("RAILWAY_PROJECT_ID", "p-1"), ("CI_PREVIEW_ENV", "preview")],
        &[("VERCEL", "1"), ("CI_PREVIEW_ENV", "preview")],
    ] {
        assert!(!deployment(vars).is_served(&serve_in), "{vars:?} is served");
    }
}

#[tokio::test]
async fn an_encoded_tilde_reaches_the_same_routes() {
    let app = app_in(Some("preview"), true).await;
    for path in ["/api/%7E/ci/health", "/api/%7e/ci/health"] {
        let answer = app.send(get(path)).await;
        assert_eq!(answer.status.as_u16(), 200, "{path}: {}", answer.body);
        assert_eq!(answer.headers["cache-control"], "no-store");
    }
    let request = EndpointRequest::post("/api/%7E/ci/test/echo")
        .token(Some(&app.good_token()))
        .body(GOOD_BODY);
    assert_eq!(app.send(request).await.status.as_u16(), 200);
}

#[tokio::test]
async fn binding_refuses_the_same_pull_request_of_another_allowed_repository() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    // Two repositories allowed; this deployment is PR 12 of the default one.
    let extra = "bind_deployment = true\n";
    let app = {
        let text = policy_toml(&issuer)
            .replace(
                "repositories = [\"octo-org/octo-repo\"]",
                "repositories = [\"octo-org/octo-repo\", \"octo-org/other-repo\"]",
            )
            .replace(
                "workflows = [\"",
                "workflows = [\"octo-org/other-repo/.github/workflows/ci-in-preview-smoke.yaml\", \"",
            );
        ci_endpoint::server::app_with(
            ci_endpoint::server::Policy::from_toml_str(&format!("{text}{extra}")).unwrap(),
            pr_deployment(Some("12"), Some("feature/preview-smoke")),
            static_verifier(&issuer),
            vec![echo_endpoint()],
            ci_endpoint::server::AppOptions::default().with_env([(ECHO_SECRET_VAR, "echo-secret")]),
        )
        .unwrap()
    };
    let answer = post_echo(&app, Some(&good_token(&issuer))).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.body);
    let other = issuer
        .token(AUDIENCE)
        .claim("repository", "octo-org/other-repo")
        .claim("repository_id", "555")
        .claim(
            "workflow_ref",
            "octo-org/other-repo/.github/workflows/ci-in-preview-smoke.yaml@refs/pull/12/merge",
        )
        .build();
    let (logs, _guard) = Capture::start();
    let answer = post_echo(&app, Some(&other)).await;
    assert_answer(&answer, 401, r#"{"error":"unauthorized"}"#);
    // Refused by the binding (the policy itself allows that repository and workflow).
    let text = logs.text();
    assert!(text.contains("deployment_mismatch"), "{text}");
    assert!(text.contains("check=\"repository_id\""), "{text}");
}
