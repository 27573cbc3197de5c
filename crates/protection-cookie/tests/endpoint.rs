//! `vercel/protection-cookie` behind the emulated Vercel edge (ci-fixtures): the endpoint primes
//! itself through the same edge the caller came through, and the cookie it hands back passes the
//! edge for a page. Every refusal gets nothing, and the bypass secret is seen by the edge only.

mod support;

use ci_fixtures::Capture;
use ci_fixtures::protection::{COOKIE_NAME, Passage};
use ci_fixtures::test_audience;
use protection_cookie::{BYPASS_SECRET_VAR, NAME, OwnHosts};
use serde_json::{Value, json};
use support::{DEFAULT, Options, PAGE, PROTECTION_AUDIENCE, SECRET, start};

#[tokio::test]
async fn a_verified_caller_gets_a_cookie_that_passes_the_edge_for_a_page() {
    let (capture, _guard) = Capture::start();
    let setup = start(DEFAULT).await;
    let host = setup.edge.host().to_owned();
    assert_eq!(
        setup.page_with(&host, None).await.status(),
        401,
        "protected"
    );

    let (status, answer) = setup.ask_edge("{}").await;
    assert_eq!(status, 200, "{answer}");
    let cookie = &answer["cookie"];
    let value = setup
        .edge
        .protection()
        .cookie_for(&host)
        .expect("the edge issued one");
    let expires = cookie["expires"].as_i64().unwrap();
    assert_eq!(
        cookie,
        &json!({"name": COOKIE_NAME, "value": value, "domain": "127.0.0.1", "path": "/",
                "expires": expires, "httpOnly": true, "secure": true, "sameSite": "Lax"})
    );
    let now = ci_fixtures::token::now();
    assert!(
        (now + 3590..=now + 3600).contains(&expires),
        "as long as the edge says: {expires}"
    );
    // The deployment's own priming request went through the edge, for the deployment's host.
    let seen = setup.edge.protection().seen();
    let primed: Vec<_> = seen
        .iter()
        .filter(|s| s.passage == Passage::Primed)
        .collect();
    assert_eq!(primed.len(), 1, "{seen:?}");
    assert_eq!(
        (primed[0].host.as_str(), primed[0].path.as_str()),
        (host.as_str(), "/api/~/ci/health")
    );

    // A browser with only that cookie sees the page; on another host of the edge it does not.
    let page = setup.page_with(&host, Some(&value)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), PAGE);
    let port = host.rsplit(':').next().unwrap();
    let other = setup
        .page_with(&format!("localhost:{port}"), Some(&value))
        .await;
    assert_eq!(
        other.status(),
        401,
        "the cookie is for the requested host only"
    );

    // Cross-site iframes ask for SameSite=None.
    let (status, answer) = setup.ask_edge(r#"{"sameSite":"none"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cookie"]["sameSite"], "None");
    let (status, answer) = setup.ask_edge(r#"{"sameSite":"strict"}"#).await;
    assert_eq!(
        (status, &answer["reason"]),
        (400, &json!("invalid_same_site"))
    );

    assert!(
        capture.text().contains("protected=true"),
        "{}",
        capture.text()
    );
    assert!(!capture.text().contains(SECRET));
    assert!(
        !capture.text().contains(&value),
        "the cookie's value is in the answer only"
    );
    assert!(
        !setup.received.text().contains(SECRET),
        "the edge keeps the secret"
    );
}

#[tokio::test]
async fn unverified_callers_get_nothing() {
    let setup = start(DEFAULT).await;
    let edge = setup.edge.url().to_owned();
    let expired = setup.issuer.token(&test_audience(NAME)).expired().build();
    let protection_token = setup.issuer.token(PROTECTION_AUDIENCE).build();
    let other_repo = setup
        .issuer
        .token(&test_audience(NAME))
        .claim("repository", "evil-org/fork")
        .build();
    for (token, status) in [
        (None, 401),
        (Some(expired.as_str()), 401),
        (Some(protection_token.as_str()), 401),
        (Some(other_repo.as_str()), 403),
    ] {
        let (got, answer) = setup.ask(&edge, token, &[], "{}").await;
        assert_eq!(got, status, "{answer}");
        assert!(answer.get("cookie").is_none(), "{answer}");
    }
    assert_eq!(
        setup.primed(),
        0,
        "nothing was primed for an unverified caller"
    );
    assert!(setup.edge.protection().issued().is_empty());
}

#[tokio::test]
async fn only_the_deployments_own_hosts_are_primed() {
    let setup = start(Options {
        policy_keys: "\n[endpoints.\"vercel/protection-cookie\".config]\npreview_hosts = [\"preview.example.invalid\"]\n",
        ..DEFAULT
    })
    .await;
    let token = setup.endpoint_token();
    // Reached directly, a spoofed forwarded host is refused before anything is sent.
    let (status, answer) = setup
        .ask(
            &setup.direct,
            Some(&token),
            &[("x-forwarded-host", "evil.example")],
            "{}",
        )
        .await;
    assert_eq!(
        (status, &answer),
        (
            403,
            &json!({"error": "forbidden", "reason": "host_not_allowed"})
        )
    );
    // A host the edge answers on but the deployment does not call its own.
    let port = setup.edge.host().rsplit(':').next().unwrap().to_owned();
    let token = setup.endpoint_token();
    let (status, _) = setup
        .ask(
            setup.edge.url(),
            Some(&token),
            &[("host", &format!("localhost:{port}"))],
            "{}",
        )
        .await;
    assert_eq!(status, 403);
    // Two forwarded hosts: which one is meant is anyone's guess.
    let token = setup.endpoint_token();
    let (status, _) = setup
        .ask(
            &setup.direct,
            Some(&token),
            &[
                ("x-forwarded-host", setup.edge.host()),
                ("x-forwarded-host", "evil.example"),
            ],
            "{}",
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(setup.primed(), 0);

    // Through the edge, the forwarded host is the edge's own: a spoofed one is overwritten.
    let token = setup.endpoint_token();
    let (status, answer) = setup
        .ask(
            setup.edge.url(),
            Some(&token),
            &[("x-forwarded-host", "evil.example")],
            "{}",
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cookie"]["domain"], "127.0.0.1");
    assert_eq!(setup.primed(), 1);

    // A policy-listed host is primed over https (here it does not resolve: 502, no cookie).
    let token = setup.endpoint_token();
    let (status, answer) = setup
        .ask(
            &setup.direct,
            Some(&token),
            &[("x-forwarded-host", "preview.example.invalid")],
            "{}",
        )
        .await;
    assert_eq!(
        (status, &answer),
        (
            502,
            &json!({"error": "bad_gateway", "reason": "edge_unreachable"})
        )
    );
}

#[tokio::test]
async fn production_and_a_missing_secret_get_nothing() {
    let (capture, _guard) = Capture::start();
    let production = start(Options {
        environment: Some("production"),
        ..DEFAULT
    })
    .await;
    let (status, answer) = production.ask_edge("{}").await;
    assert_eq!((status, answer), (404, json!("Not Found")));
    assert_eq!(production.primed(), 0);

    let missing = start(Options {
        secret: None,
        ..DEFAULT
    })
    .await;
    let (status, answer) = missing.ask_edge("{}").await;
    assert_eq!((status, answer), (500, json!({"error": "misconfigured"})));
    assert_eq!(missing.primed(), 0);
    let health: Value = missing
        .http
        .get(format!("{}/api/~/ci/health", missing.direct))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["endpoints"][0]["name"], NAME);
    assert_eq!(health["endpoints"][0]["ready"], false);
    assert!(
        capture.text().contains(BYPASS_SECRET_VAR),
        "the log names the variable"
    );
}

#[tokio::test]
async fn an_edge_that_refuses_or_an_unprotected_deployment() {
    let (capture, _guard) = Capture::start();
    // The edge no longer accepts the deployment's secret (rotated): 502, nothing issued.
    let rotated = start(Options {
        edge_secret: "another-secret",
        ..DEFAULT
    })
    .await;
    let (status, answer) = rotated.ask_edge("{}").await;
    assert_eq!(
        (status, &answer["reason"]),
        (502, &json!("edge_refused")),
        "{answer}"
    );
    assert!(rotated.edge.protection().issued().is_empty());

    // Priming that reaches the app without the edge: not protected, no cookie.
    let open = start(Options {
        self_is_direct: true,
        ..DEFAULT
    })
    .await;
    let token = open.endpoint_token();
    let (status, answer) = open.ask(&open.direct, Some(&token), &[], "{}").await;
    assert_eq!((status, answer), (200, json!({"cookie": null})));

    let logs = capture.text();
    assert!(logs.contains("edge_refused"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(!rotated.received.text().contains(SECRET));
}

#[test]
fn start_up_refuses_plain_http_to_another_host() {
    let err = OwnHosts::from_lookup(|name| {
        (name == "CI_PREVIEW_SELF_URL").then(|| "http://preview.example.com".to_owned())
    })
    .unwrap_err();
    assert_eq!(err.0, "CI_PREVIEW_SELF_URL");
    assert!(err.1.contains("plain http"), "{}", err.1);
}

/// The shipped policy pins `job_workflow_ref` to the reusable `browser-state.yml` this repository
/// ships, at one commit: a token from that workflow at that commit passes verification (and meets
/// the host rule next), while a token the test job's own code mints (its job runs the caller's
/// e2e workflow) is refused, and so is the same workflow at another commit.
#[tokio::test]
async fn the_shipped_policy_refuses_a_token_minted_by_the_test_jobs_own_code() {
    use axum::{body::Body, http::Request};
    use ci_endpoint::server::{Deployment, Policy, app};

    let issuer = ci_fixtures::MockIssuer::start().await;
    let shipped = include_str!("../../../ci-policy.toml").replace(
        "https://token.actions.githubusercontent.com",
        &issuer.issuer_url(),
    );
    let policy = Policy::from_toml_str(&shipped).unwrap();
    let entry = policy
        .endpoint(NAME)
        .expect("the shipped policy serves the endpoint");
    assert!(entry.single_use && entry.bind_deployment);
    // The pin names the file this repository ships, not a name that merely looks right.
    let [pinned] = entry.workflows.as_slice() else {
        panic!("one workflow: {:?}", entry.workflows)
    };
    let (path, commit) = pinned.rsplit_once('@').unwrap();
    let file = path
        .strip_prefix("example-org/ci-in-preview/")
        .expect("the example copy of ci-in-preview");
    assert_eq!(file, ".github/workflows/browser-state.yml");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = std::fs::read_to_string(root.join(file)).expect("the pinned file is shipped");
    assert!(
        shipped.contains("\n  workflow_call:\n"),
        "a reusable workflow"
    );
    let deployment = Deployment {
        environment: Some("preview".into()),
        repository: Some("example-org/example-app".into()),
        repository_id: Some("123456789".into()),
        pull_request: Some("12".into()),
        ..Deployment::default()
    };
    let hosts = OwnHosts::default()
        .with_platform_host("app-git-x-example.vercel.app")
        .unwrap();
    let router = app(
        policy.clone(),
        deployment,
        ci_fixtures::static_verifier(&issuer),
        vec![protection_cookie::endpoint_with(hosts)],
    )
    .unwrap();
    let token = |job_workflow: Option<(&str, &str)>| {
        let builder = issuer
            .token(&entry.audience)
            .claim("repository", "example-org/example-app")
            .claim("repository_owner", "example-org")
            .claim("repository_id", "123456789")
            .claim("repository_owner_id", "987654321")
            .workflow("example-org/example-app/.github/workflows/e2e.yml");
        match job_workflow {
            Some((path, git_ref)) => builder.reusable(path, git_ref, git_ref),
            None => builder,
        }
        .build()
    };
    let ask = |token: String| {
        Request::post(format!("/api/~/ci/{NAME}"))
            .header("host", "elsewhere.example")
            .header(ci_endpoint::TOKEN_HEADER, token)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    let reusable = token(Some((path, commit)));
    let answer = ci_fixtures::send(&router, ask(reusable)).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (403, r#"{"error":"forbidden","reason":"host_not_allowed"}"#),
        "verified, then the host rule"
    );
    let own_code = token(None);
    let answer = ci_fixtures::send(&router, ask(own_code)).await;
    assert_eq!(answer.status.as_u16(), 401, "{}", answer.body);
    let other_commit = token(Some((path, ci_fixtures::DEFAULT_SHA)));
    let answer = ci_fixtures::send(&router, ask(other_commit)).await;
    assert_eq!(answer.status.as_u16(), 401, "{}", answer.body);
}
