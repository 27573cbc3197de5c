//! The endpoint through the real kit, one test per row of the contract table (`CONTRACT.md` §2),
//! plus the ordering between rows: production before auth, auth before body, body before size,
//! size before the missing secret.

use crate::common::*;
use encrypt_override::MAX_TOKEN_LEN;
use encrypt_override::{decrypt_overrides, now_unix};
use serde_json::{Value, json};

#[tokio::test]
async fn success_returns_a_cookie_the_codec_decrypts() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let body =
        r#"{"flags":{"zeta":1,"alpha":{"nested":[true,null]},"🚀":"機能"},"extra":"ignored"}"#;
    let answer = app.post(Some(&app.good_token()), body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["content-type"], "application/json");
    let json: Value = serde_json::from_str(&answer.body).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["cookie", "expires"]);
    let cookie = json["cookie"].as_str().unwrap();
    assert!(cookie.starts_with("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.."));
    let overrides = decrypt_overrides(cookie, &secret(), now_unix()).expect("decrypts");
    assert_eq!(
        overrides,
        json!({"zeta":1,"alpha":{"nested":[true,null]},"🚀":"機能"})
    );
    // The caller's key order survives into the cookie, as with the SDK.
    let order: Vec<&String> = overrides.as_object().unwrap().keys().collect();
    assert_eq!(order, ["zeta", "alpha", "🚀"]);
    // The policy's default lifetime (two hours), not the SDK's year: `expires` says when.
    assert_expires_in(&json, 7200);
    assert!(decrypt_overrides(cookie, &secret(), now_unix() + 7200 - 60).is_some());
    assert!(decrypt_overrides(cookie, &secret(), now_unix() + 7200 + 60).is_none());
}

/// `expires` is now + `lifetime` (within the test's own run time) and is the cookie's `exp`.
#[track_caller]
fn assert_expires_in(json: &Value, lifetime: i64) {
    let expires = json["expires"].as_i64().expect("numeric expires");
    let now = now_unix();
    assert!(
        (now + lifetime - 5..=now + lifetime).contains(&expires),
        "expires {expires}, now {now}, lifetime {lifetime}"
    );
    let cookie = json["cookie"].as_str().unwrap();
    assert!(decrypt_overrides(cookie, &secret(), expires - 1).is_some());
    assert!(decrypt_overrides(cookie, &secret(), expires + 1).is_none());
}

#[tokio::test]
async fn max_age_shortens_the_cookie_and_the_policy_caps_it() {
    let app = TestApp::builder(encrypt_override::endpoint())
        .environment(Some("preview"))
        .var(encrypt_override::SECRET_VAR, SECRET)
        .policy_keys("cookie_max_age = 600\n")
        .start()
        .await;
    // Absent: the policy's value.
    let answer = app.post(Some(&app.good_token()), GOOD_BODY).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_expires_in(&serde_json::from_str(&answer.body).unwrap(), 600);
    // Shorter than the policy: honoured.
    for max_age in [1, 120, 600] {
        let body = format!(r#"{{"flags":{{"a":true}},"maxAge":{max_age}}}"#);
        let answer = app.post(Some(&app.good_token()), body).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_expires_in(&serde_json::from_str(&answer.body).unwrap(), max_age);
    }
    // Longer than the policy: refused with a reason the caller can act on.
    for max_age in ["601", "86400", "31557600", "18446744073709551615"] {
        let body = format!(r#"{{"flags":{{"a":true}},"maxAge":{max_age}}}"#);
        let answer = app.post(Some(&app.good_token()), body).await;
        assert_answer(
            &answer,
            400,
            r#"{"error":"bad_request","reason":"max_age_too_long"}"#,
        );
    }
    // Not a positive whole number of seconds.
    for max_age in [
        "0", "-1", "1.5", "60.0", "\"60\"", "null", "true", "[60]", "1e3",
    ] {
        let body = format!(r#"{{"flags":{{"a":true}},"maxAge":{max_age}}}"#);
        let answer = app.post(Some(&app.good_token()), body).await;
        assert_answer(&answer, 400, r#"{"error":"bad_request"}"#);
    }
}

#[tokio::test]
async fn empty_flags_are_fine() {
    let app = app_in(Some("development"), Some(SECRET)).await;
    let answer = app.post(Some(&app.good_token()), r#"{"flags":{}}"#).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn production_and_unset_environments_answer_404_before_anything() {
    for environment in [Some("production"), None, Some("staging")] {
        let app = app_in(environment, Some(SECRET)).await;
        let answer = app.post(Some(&app.good_token()), GOOD_BODY).await;
        assert_answer(&answer, 404, "Not Found");
        assert!(
            answer.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let answer = app.post(None, "not json").await;
        assert_answer(&answer, 404, "Not Found");
    }
}

#[tokio::test]
async fn missing_or_invalid_tokens_answer_401() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    assert_answer(
        &app.post(None, GOOD_BODY).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
    for token in [
        "garbage".to_owned(),
        app.token().expired().build(),
        app.issuer().token("https://ci.test/other").build(),
        app.token().sign_with_foreign_key().build(),
    ] {
        let answer = app.post(Some(&token), GOOD_BODY).await;
        assert_answer(&answer, 401, r#"{"error":"unauthorized"}"#);
    }
}

#[tokio::test]
async fn another_repository_answers_403_and_other_policy_failures_401() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let other_repo = app
        .token()
        .claim("repository", json!("someone/else"))
        .build();
    assert_answer(
        &app.post(Some(&other_repo), GOOD_BODY).await,
        403,
        r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
    );
    let other_workflow = app
        .token()
        .claim(
            "workflow_ref",
            json!("octo-org/octo-repo/.github/workflows/other.yaml@refs/heads/main"),
        )
        .build();
    let denied_event = app.token().event("pull_request_target").build();
    for token in [other_workflow, denied_event] {
        assert_answer(
            &app.post(Some(&token), GOOD_BODY).await,
            401,
            r#"{"error":"unauthorized"}"#,
        );
    }
}

#[tokio::test]
async fn auth_is_checked_before_the_body() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let huge = format!(r#"{{"flags":{}}}"#, flags_of_json_len(70 * 1024));
    assert_answer(
        &app.post(None, huge).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
    assert_answer(
        &app.post(None, "not json").await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
}

#[tokio::test]
async fn a_body_over_64_kib_answers_413() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let huge = format!(r#"{{"flags":{}}}"#, flags_of_json_len(65 * 1024));
    assert_answer(
        &app.post(Some(&app.good_token()), huge).await,
        413,
        r#"{"error":"payload_too_large"}"#,
    );
}

#[tokio::test]
async fn bodies_without_a_flags_object_answer_400() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let token = app.good_token();
    for body in [
        "not json",
        "",
        "{",
        "null",
        "[]",
        r#"[{"flags":{}}]"#,
        r#""flags""#,
        "{}",
        r#"{"other":{}}"#,
        r#"{"flags":[]}"#,
        r#"{"flags":[{"a":1}]}"#,
        r#"{"flags":null}"#,
        r#"{"flags":"a"}"#,
        r#"{"flags":1}"#,
        r#"{"flags":true}"#,
    ] {
        let answer = app.post(Some(&token), body).await;
        assert_answer(&answer, 400, r#"{"error":"bad_request"}"#);
    }
}

#[tokio::test]
async fn a_cookie_over_4096_bytes_answers_400_cookie_too_large() {
    let app = app_in(Some("preview"), Some(SECRET)).await;
    let token = app.good_token();
    // 2953 bytes of overrides JSON is the most that fits (the vectors' size note).
    let fits = format!(r#"{{"flags":{}}}"#, flags_of_json_len(2953));
    let answer = app.post(Some(&token), fits).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let cookie: Value = serde_json::from_str(&answer.body).unwrap();
    let cookie = cookie["cookie"].as_str().unwrap();
    assert_eq!(cookie.len(), MAX_TOKEN_LEN - 1);
    assert_eq!("vercel-flag-overrides=".len() + cookie.len(), 4095);
    let over = format!(r#"{{"flags":{}}}"#, flags_of_json_len(2954));
    assert_answer(
        &app.post(Some(&token), over).await,
        400,
        r#"{"error":"bad_request","reason":"cookie_too_large"}"#,
    );
}

#[tokio::test]
async fn a_missing_secret_answers_500_after_the_body_checks() {
    let app = app_in(Some("preview"), None).await;
    let token = app.good_token();
    assert_answer(
        &app.post(Some(&token), GOOD_BODY).await,
        500,
        r#"{"error":"misconfigured"}"#,
    );
    assert_answer(
        &app.post(Some(&token), r#"{"flags":1}"#).await,
        400,
        r#"{"error":"bad_request"}"#,
    );
    let over = format!(r#"{{"flags":{}}}"#, flags_of_json_len(3000));
    assert_answer(
        &app.post(Some(&token), over).await,
        400,
        r#"{"error":"bad_request","reason":"cookie_too_large"}"#,
    );
    assert_answer(
        &app.post(None, GOOD_BODY).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
}

#[tokio::test]
async fn health_reports_readiness() {
    for (secret, ready) in [(Some(SECRET), true), (None, false)] {
        let app = app_in(Some("preview"), secret).await;
        let health = app.health().await;
        let listed = &health["endpoints"][0];
        assert_eq!(listed["name"], "flags/encrypt-override");
        assert_eq!(listed["path"], PATH);
        assert_eq!(listed["audience"], AUDIENCE);
        assert_eq!(listed["ready"], ready);
    }
}

/// Whether health lists the endpoint ready.
async fn listed_ready(app: &axum::Router) -> bool {
    let request = axum::http::Request::get("/api/~/ci/health")
        .body(axum::body::Body::empty())
        .unwrap();
    let health: Value = serde_json::from_str(&send(app, request).await.body).unwrap();
    health["endpoints"][0]["ready"].as_bool().unwrap()
}

#[tokio::test]
async fn the_secret_variable_decides_readiness_or_stops_start_up() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let start = |value: Option<&str>| app_with_secret(&issuer, Some("preview"), value);
    for unset in [None, Some(""), Some(" \n")] {
        assert!(!listed_ready(&start(unset).unwrap()).await, "{unset:?}");
    }
    assert!(listed_ready(&start(Some(SECRET)).unwrap()).await);
    // `openssl rand -base64 32` output, newline included.
    let openssl = "03EPRElaZK+T/rqAOo8R4AU1eIOb2fnrH0kvGk91f+g=\n";
    assert!(listed_ready(&start(Some(openssl)).unwrap()).await);
    for bad in ["abcdefghijklmnopqrstuvwxyz012345", "not base64!", "c2hvcnQ"] {
        let message = start(Some(bad)).unwrap_err().to_string();
        assert!(message.starts_with("FLAGS_SECRET: "), "{message}");
        assert!(message.contains("openssl rand -base64 32"), "{message}");
        assert!(!message.contains(bad), "{message}");
    }
    // Malformed stops start-up in every environment, production included.
    assert!(app_with_secret(&issuer, Some("production"), Some("c2hvcnQ")).is_err());
}
