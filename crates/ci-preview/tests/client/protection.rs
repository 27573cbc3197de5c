//! Deployment Protection, against ci-fixtures' mock of Vercel's edge: OIDC (Trusted Sources) with
//! no secret in CI, the bypass secret under Vercel's own variable name, and `flags` writing a
//! Playwright storageState with the override cookie and the primed protection cookie.

use ci_fixtures::DeploymentProtection;
use ci_fixtures::protection::{COOKIE_NAME, Passage};
use serde_json::{Value, json};

use crate::support::*;

fn endpoint_mints(github: &ci_fixtures::MockGitHub) -> Vec<ci_fixtures::Mint> {
    github
        .mints()
        .into_iter()
        .filter(|m| m.audience == AUDIENCE)
        .collect()
}

#[tokio::test]
async fn oidc_protection_needs_no_secret() {
    let (issuer, github) = mocks().await;
    let protection = DeploymentProtection::new().with_trusted_source(&issuer, PROTECTION_AUDIENCE);
    let preview = Preview::start_protected(HealthMode::Serving(HEAD_SHA.into()), &protection).await;
    let run = Client::new(&["call", ENDPOINT, "--url", &preview.url, "--data", "{}"])
        .github(&github)
        .in_actions()
        .run()
        .await;
    run.assert_success();
    let seen = protection.seen();
    // `auto` sends the protection token only once the preview answered like Vercel's
    // protection: health without it (401), then health and the call with it.
    let passages: Vec<_> = seen.iter().map(|s| s.passage.clone()).collect();
    assert_eq!(
        passages,
        [
            Passage::Blocked("no credentials".into()),
            Passage::Oidc,
            Passage::Oidc
        ],
        "{seen:?}"
    );
    run.assert_stderr_has(&["GitHub's default https://github.com/"]);
    let mints = github.mints();
    let protection_mints: Vec<_> = mints
        .iter()
        .filter(|m| m.audience == PROTECTION_AUDIENCE)
        .collect();
    assert_eq!(
        protection_mints.len(),
        1,
        "one protection token, reused within a minute"
    );
    assert_eq!(endpoint_mints(&github).len(), 1);
    assert_eq!(preview.calls()[0].token, endpoint_mints(&github)[0].token);
    for mint in &mints {
        run.assert_masked_only(&mint.token);
    }

    // `none` sends nothing and says what would pass.
    let run = Client::new(&[
        "wait",
        "--url",
        &preview.url,
        "--timeout",
        "1s",
        "--protection",
        "none",
    ])
    .github(&github)
    .run()
    .await;
    run.assert_exit(1, &["the deployment is protected", "Trusted Sources"]);
}

#[tokio::test]
async fn auto_mints_no_protection_token_for_an_unprotected_preview() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let run = Client::new(&["call", ENDPOINT, "--url", &preview.url, "--data", "{}"])
        .github(&github)
        .in_actions()
        .run()
        .await;
    run.assert_success();
    let audiences: Vec<String> = github.mints().into_iter().map(|m| m.audience).collect();
    assert_eq!(audiences, [AUDIENCE], "only the endpoint's token");
    assert!(!run.stderr.contains("GitHub's default"), "{}", run.stderr);
}

#[tokio::test]
async fn protection_and_endpoint_tokens_are_not_interchangeable() {
    let (issuer, github) = mocks().await;
    let protection = DeploymentProtection::new().with_trusted_source(&issuer, PROTECTION_AUDIENCE);
    let preview = Preview::start_protected(HealthMode::Serving(HEAD_SHA.into()), &protection).await;
    // The client refuses to mint an endpoint token the edge would also accept.
    let run = Client::new(&[
        "call",
        ENDPOINT,
        "--url",
        &preview.url,
        "--data",
        "{}",
        "--audience",
        PROTECTION_AUDIENCE,
    ])
    .github(&github)
    .run()
    .await;
    run.assert_exit(2, &["equals the protection audience"]);
    assert!(endpoint_mints(&github).is_empty() && preview.calls().is_empty());

    // The edge refuses an endpoint token, and the endpoint a protection token.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let endpoint_token = issuer.token(AUDIENCE).build();
    let answer = http
        .get(format!("{}/api/~/ci/health", preview.url))
        .header("x-vercel-trusted-oidc-idp-token", &endpoint_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        401,
        "Vercel's answer to a request it stops"
    );
    assert!(
        matches!(protection.seen().last().unwrap().passage, Passage::Blocked(ref why) if why.contains("wrong audience"))
    );
    let protection_token = issuer.token(PROTECTION_AUDIENCE).build();
    let answer = http
        .post(format!("{}/api/~/ci/{ENDPOINT}", preview.url))
        .header("x-vercel-trusted-oidc-idp-token", &protection_token)
        .header("x-github-oidc-token", &protection_token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "the endpoint wants its own audience");
}

#[tokio::test]
async fn vercels_bypass_variable_works_and_is_never_printed() {
    let (_issuer, github) = mocks().await;
    let protection = DeploymentProtection::new().with_bypass(BYPASS);
    let preview = Preview::start_protected(HealthMode::Serving(HEAD_SHA.into()), &protection).await;
    let run = Client::new(&["call", ENDPOINT, "--url", &preview.url, "--data", "{}"])
        .github(&github)
        .in_actions()
        .env("VERCEL_AUTOMATION_BYPASS_SECRET", BYPASS)
        .run()
        .await;
    run.assert_success();
    assert!(
        protection
            .seen()
            .iter()
            .all(|s| s.passage == Passage::Bypass)
    );
    assert_eq!(
        github.mints().len(),
        1,
        "auto prefers the configured secret: no protection token"
    );
    run.assert_never(BYPASS);

    let run = Client::new(&[
        "call",
        ENDPOINT,
        "--url",
        &preview.url,
        "--data",
        "{}",
        "--protection",
        "bypass",
    ])
    .github(&github)
    .run()
    .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("DEPLOYMENT_PROTECTION_BYPASS is not set"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn flags_writes_a_playwright_storage_state() {
    let (_issuer, github) = mocks().await;
    let protection = DeploymentProtection::new().with_bypass(BYPASS);
    let preview = Preview::start_protected(HealthMode::Serving(HEAD_SHA.into()), &protection).await;
    let dir = tempfile::tempdir().unwrap();
    // The order a user types: the flag first, then the overrides (the first override used to
    // be taken for the file name).
    let run = Client::new(&[
        "flags",
        "--storage-state",
        "newCheckout=true",
        "limit=3",
        "variant=blue",
        "--url",
        &preview.url,
        "--expires-in",
        "30m",
    ])
    .github(&github)
    .in_actions()
    .env("RUNNER_TEMP", dir.path())
    .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
    .run()
    .await;
    run.assert_success();
    let path = dir.path().join("ci-preview-storage-state.json");
    assert_eq!(run.stdout, format!("{}\n", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let call = &preview.calls()[0];
    assert_eq!(
        call.body,
        json!({"flags": {"newCheckout": true, "limit": 3, "variant": "blue"}, "maxAge": 1800})
    );
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cookie = preview.state().cookie.clone();
    let cookies = state["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 2, "{state}");
    let overrides = &cookies[0];
    let expires = overrides["expires"].as_i64().unwrap();
    assert!(
        (unix_now() + 1790..=unix_now() + 1800).contains(&expires),
        "{expires}"
    );
    assert_eq!(
        overrides,
        &json!({"name": "vercel-flag-overrides", "value": cookie, "domain": "127.0.0.1",
                "path": "/", "expires": expires, "httpOnly": false, "secure": false, "sameSite": "Lax"})
    );
    let bypass_cookie = &cookies[1];
    let host = preview.url.trim_start_matches("http://");
    let issued = protection
        .cookie_for(host)
        .expect("the edge issued a cookie");
    assert_eq!(bypass_cookie["name"], COOKIE_NAME);
    assert_eq!(bypass_cookie["value"], issued.as_str());
    assert_eq!(bypass_cookie["domain"], "127.0.0.1");
    assert_eq!(bypass_cookie["httpOnly"], true);
    assert_eq!(state["origins"], json!([]));
    assert!(
        protection
            .seen()
            .iter()
            .any(|s| s.passage == Passage::Primed)
    );

    // A browser with that file passes protection on its own.
    let page = reqwest::Client::new()
        .get(&preview.url)
        .header("cookie", format!("{COOKIE_NAME}={issued}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    run.assert_masked_only(&cookie);
    run.assert_masked_only(&issued);
    run.assert_never(BYPASS);
}

#[tokio::test]
async fn storage_state_takes_a_file_only_when_joined_to_the_flag() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let joined = format!("--storage-state={}", file.display());
    let run = Client::new(&[
        "flags",
        &joined,
        "a=1",
        "--url",
        &preview.url,
        "--protection",
        "none",
    ])
    .github(&github)
    .in_actions()
    .run()
    .await;
    run.assert_success();
    assert_eq!(run.stdout, format!("{}\n", file.display()));
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(state["cookies"][0]["name"], "vercel-flag-overrides");
    assert_eq!(preview.calls()[0].body["flags"], json!({"a": 1}));
}

#[tokio::test]
async fn flags_to_github_env_or_stdout() {
    let (_issuer, github) = mocks().await;
    let preview = Preview::start(HealthMode::Serving(HEAD_SHA.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    let run = Client::new(&[
        "flags",
        "a=1",
        "--url",
        &preview.url,
        "--github-env",
        "FLAG_OVERRIDES",
    ])
    .github(&github)
    .in_actions()
    .env("GITHUB_ENV", &env_file)
    .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
    .run()
    .await;
    run.assert_success();
    assert!(run.stdout.is_empty());
    let cookie = preview.state().cookie.clone();
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("FLAG_OVERRIDES={cookie}\n")
    );
    run.assert_masked_only(&cookie);
    assert!(
        preview.calls()[0].body.get("maxAge").is_none(),
        "no lifetime asked"
    );

    let run = Client::new(&["flags", "a=1", "--url", &preview.url])
        .github(&github)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_success();
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answer["cookie"], cookie.as_str());
    assert!(answer["expires"].as_i64().is_some());

    preview.state().answers.push_back((
        400,
        r#"{"error":"bad_request","reason":"max_age_too_long"}"#.to_owned(),
    ));
    let run = Client::new(&["flags", "a=1", "--url", &preview.url, "--expires-in", "3d"])
        .github(&github)
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_exit(1, &["cookie_max_age"]);
    let run = Client::new(&["flags", "novalue", "--url", &preview.url])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &[]);
}
