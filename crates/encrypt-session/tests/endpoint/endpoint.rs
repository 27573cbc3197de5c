//! The endpoint behind the real guard chain (`ci_endpoint::server::app`), with a mock OIDC issuer: the
//! kit's refusals, the contract's answers, the cookie name rule, and the cookie read back by our
//! decoder and (when `CI_PREVIEW_AUTHJS_CHECK_DIR` is set) by the real Auth.js.

use crate::common::{CAP, SECRET, app, authjs, authjs_dir, build, now};
use ci_fixtures::assert_answer;
use encrypt_session::{AuthSecret, COOKIE_NAME, MAX_COOKIE_LEN, SECURE_COOKIE_NAME, decode};
use serde_json::{Value, json};

const SESSION: &str = r#"{"session":{"name":"CI Test User","email":"ci@example.com","sub":"u1"}}"#;

async fn issue(headers: &[(&str, &str)], auth_url: Option<&str>, body: &str) -> (u16, String) {
    let app = app("preview", Some(SECRET), auth_url).await;
    let mut request = app.call().token(Some(&app.good_token()));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = app.send(request.body(body.to_owned())).await;
    (answer.status.as_u16(), answer.body)
}

fn answer(body: &str) -> (String, String, u64) {
    let v: Value = serde_json::from_str(body).expect("json");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["name", "cookie", "expires"], "{body}");
    (
        v["name"].as_str().expect("name").to_owned(),
        v["cookie"].as_str().expect("cookie").to_owned(),
        v["expires"].as_u64().expect("expires"),
    )
}

#[tokio::test]
async fn production_never_serves_it() {
    let app = app("production", Some(SECRET), None).await;
    let answer = app.post(Some(&app.good_token()), SESSION).await;
    assert_answer(&answer, 404, "Not Found");
}

#[tokio::test]
async fn the_kit_refuses_unverified_callers() {
    let app = app("preview", Some(SECRET), None).await;
    assert_answer(
        &app.post(None, SESSION).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
    let other = app.token().claim("repository", "someone/else").build();
    assert_answer(
        &app.post(Some(&other), SESSION).await,
        403,
        r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
    );
}

#[tokio::test]
async fn a_verified_caller_gets_a_session_cookie_for_the_policy_lifetime() {
    let before = now();
    let (status, body) = issue(&[], None, SESSION).await;
    assert_eq!(status, 200, "{body}");
    let (name, cookie, expires) = answer(&body);
    // No `x-forwarded-proto` and no AUTH_URL: a plain-HTTP origin, the unprefixed name.
    assert_eq!(name, COOKIE_NAME);
    let key = AuthSecret::parse(SECRET).unwrap().key_for(COOKIE_NAME);
    let claims = decode(&key, &cookie, now()).expect("our decoder reads it");
    assert_eq!(
        (claims["sub"].as_str(), claims["email"].as_str()),
        (Some("u1"), Some("ci@example.com"))
    );
    assert_eq!(claims["exp"].as_u64(), Some(expires));
    assert!((before + CAP..=now() + CAP).contains(&expires), "{expires}");
    assert!(!body.contains(SECRET));
}

#[tokio::test]
async fn a_shorter_max_age_is_honoured_and_a_longer_one_refused() {
    let body = r#"{"session":{"sub":"u1"},"maxAge":120}"#;
    let (status, text) = issue(&[], None, body).await;
    assert_eq!(status, 200, "{text}");
    let (_, _, expires) = answer(&text);
    assert!((now() + 110..=now() + 120).contains(&expires));
    let at_cap = format!(r#"{{"session":{{"sub":"u1"}},"maxAge":{CAP}}}"#);
    assert_eq!(issue(&[], None, &at_cap).await.0, 200);
    let above = format!(r#"{{"session":{{"sub":"u1"}},"maxAge":{}}}"#, CAP + 1);
    assert_eq!(
        issue(&[], None, &above).await,
        (
            400,
            r#"{"error":"bad_request","reason":"max_age_too_long"}"#.to_owned()
        )
    );
}

/// The review's finding: any verified caller could name `iss`, `aud` or `nbf`; and a session
/// outlived `cookie_max_age` once Auth.js re-signed it. The endpoint refuses the reserved claims
/// and writes its own expiry claim, which the app's `callbacks.jwt` enforces.
#[tokio::test]
async fn reserved_claims_are_refused_and_the_expiry_claim_is_the_endpoints() {
    for claim in encrypt_session::RESERVED_CLAIMS {
        let body = format!(r#"{{"session":{{"sub":"u1","{claim}":1}}}}"#);
        assert_eq!(
            issue(&[], None, &body).await,
            (
                400,
                r#"{"error":"bad_request","reason":"reserved_claim"}"#.to_owned()
            ),
            "{claim}"
        );
    }
    let (status, body) = issue(&[], None, r#"{"session":{"sub":"u1"},"maxAge":600}"#).await;
    assert_eq!(status, 200, "{body}");
    let (name, cookie, expires) = answer(&body);
    let key = AuthSecret::parse(SECRET).unwrap().key_for(&name);
    let claims = decode(&key, &cookie, now()).unwrap();
    assert_eq!(claims["ci_expires_at"], expires);
    assert_eq!(claims["exp"], expires);
}

#[tokio::test]
async fn malformed_requests_get_the_contract_answers() {
    let not_object = r#"{"error":"bad_request","reason":"session_not_an_object"}"#;
    let plain = r#"{"error":"bad_request"}"#;
    for (body, expected) in [
        (r#"[]"#, plain),
        (r#"{}"#, not_object),
        (r#"{"session":"sub=u1"}"#, not_object),
        (r#"{"session":[{"sub":"u1"}]}"#, not_object),
        (r#"{"session":null}"#, not_object),
        (r#"{"session":{"sub":"u1"},"maxAge":0}"#, plain),
        (r#"{"session":{"sub":"u1"},"maxAge":-5}"#, plain),
        (r#"{"session":{"sub":"u1"},"maxAge":1.5}"#, plain),
        (r#"{"session":{"sub":"u1"},"maxAge":"60"}"#, plain),
    ] {
        assert_eq!(
            issue(&[], None, body).await,
            (400, expected.to_owned()),
            "{body}"
        );
    }
}

/// The largest session body that still fits in one cookie, and the smallest one that does not
/// (cookie lengths step by one 16-byte cipher block as the padding grows).
fn sessions_around_the_limit() -> (String, String) {
    let len = |pad: usize| {
        let session = json!({"sub": "u1", "pad": "x".repeat(pad)});
        let mut payload =
            encrypt_session::session_payload(session.as_object().expect("object"), now(), CAP)
                .expect("payload");
        // The endpoint's own expiry claim, as it adds it.
        payload.insert(
            encrypt_session::EXPIRES_CLAIM.to_owned(),
            (now() + CAP).into(),
        );
        (
            encrypt_session::cookie_len(&payload),
            json!({ "session": session }).to_string(),
        )
    };
    let first_over = (0..)
        .find(|&pad| len(pad).0 > MAX_COOKIE_LEN)
        .expect("some pad is too large");
    (len(first_over - 1).1, len(first_over).1)
}

#[tokio::test]
async fn a_session_auth_js_would_chunk_is_refused() {
    let (largest, too_large) = sessions_around_the_limit();
    let (status, body) = issue(&[], None, &largest).await;
    assert_eq!(status, 200, "{body}");
    let cookie = answer(&body).1;
    assert!(
        MAX_COOKIE_LEN - 16 < cookie.len() && cookie.len() <= MAX_COOKIE_LEN,
        "{}",
        cookie.len()
    );
    assert_eq!(
        issue(&[], None, &too_large).await,
        (
            400,
            r#"{"error":"bad_request","reason":"cookie_too_large"}"#.to_owned()
        )
    );
}

#[tokio::test]
async fn the_cookie_name_follows_what_auth_js_uses_on_the_deployment() {
    let https = [("x-forwarded-proto", "https")];
    let http = [("x-forwarded-proto", "http")];
    for (headers, auth_url, expected) in [
        (&https[..], None, SECURE_COOKIE_NAME),
        (&http[..], None, COOKIE_NAME),
        (&[][..], None, COOKIE_NAME),
        // AUTH_URL wins over the request, as in Auth.js.
        (&http[..], Some("https://app.example"), SECURE_COOKIE_NAME),
        (&https[..], Some("http://localhost:3000"), COOKIE_NAME),
    ] {
        let (status, body) = issue(headers, auth_url, SESSION).await;
        assert_eq!(status, 200, "{body}");
        let (name, cookie, _) = answer(&body);
        assert_eq!(name, expected, "{headers:?} {auth_url:?}");
        let key = AuthSecret::parse(SECRET).unwrap().key_for(&name);
        decode(&key, &cookie, now()).expect("sealed with the key of its own name");
    }
}

#[tokio::test]
async fn without_a_secret_it_is_not_ready_and_answers_500() {
    let app = app("preview", None, None).await;
    assert_answer(
        &app.post(Some(&app.good_token()), SESSION).await,
        500,
        r#"{"error":"misconfigured"}"#,
    );
    let health = app.health().await;
    let entry = health["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["name"] == encrypt_session::NAME)
        .cloned()
        .expect("listed");
    assert_eq!(entry["ready"], false, "{health}");
}

#[tokio::test]
async fn a_malformed_secret_stops_start_up_saying_how_to_fix_it() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    for (secret, leaked) in [
        ("too-short", "too-short"),
        ("a\nsecret that is long enough to pass", "long enough"),
    ] {
        let error = match build(&issuer, "production", Some(secret), None) {
            Ok(_) => panic!("start-up should have been refused"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.contains("AUTH_SECRET")
                && error.contains("npx auth secret")
                && error.contains("openssl rand -base64 33"),
            "{error}"
        );
        assert!(
            !error.contains(leaked),
            "the message must not echo the secret: {error}"
        );
    }
}

#[tokio::test]
async fn auth_js_decodes_the_cookie_the_endpoint_issued() {
    let Some(dir) = authjs_dir() else { return };
    for proto in ["http", "https"] {
        let (status, body) = issue(&[("x-forwarded-proto", proto)], None, SESSION).await;
        assert_eq!(status, 200, "{body}");
        let (name, cookie, expires) = answer(&body);
        let claims: Value = serde_json::from_str(
            &authjs(&dir, &["decode", &name, &cookie])
                .expect("Auth.js decodes the endpoint's cookie"),
        )
        .expect("json");
        assert_eq!(
            (claims["sub"].as_str(), claims["exp"].as_u64()),
            (Some("u1"), Some(expires))
        );
    }
}
