//! The `tokens/mint` endpoint through the real kit: tokens of every algorithm verified by
//! `jose` (the live interop check) and by the public key in Rust, the policy's claims and
//! templates, the refusals with their reasons and the key's start-up errors (`logs.rs`: what is
//! logged).

use crate::common::*;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_fixtures::{DEFAULT_REPOSITORY_ID, TestApp, assert_answer};
use serde_json::{Value, json};
use tokens_mint::{KEY_VAR, MintAlgorithm};

const REQUEST: &str = r#"{"subject":"user-1","claims":{"name":"E2E User"},"maxAge":120}"#;

async fn mint(app: &TestApp, body: &str) -> (u16, Value) {
    let answer = app.post(Some(&app.good_token()), body.to_owned()).await;
    (
        answer.status.as_u16(),
        serde_json::from_str(&answer.body).unwrap_or(Value::Null),
    )
}

fn part(token: &str, i: usize) -> Value {
    let segment = token.split('.').nth(i).expect("three segments");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn every_algorithm_mints_a_token_jose_verifies() {
    let mut cases = Vec::new();
    for key in keys() {
        let app = app(key.algorithm, Some(&key.private)).await;
        let (status, answer) = mint(&app, REQUEST).await;
        assert_eq!(status, 200, "{}: {answer}", key.algorithm);
        let token = answer["token"].as_str().expect("token").to_owned();
        let header = part(&token, 0);
        assert_eq!(header["alg"], key.algorithm.as_str());
        assert_eq!(
            (header["typ"].as_str(), header["kid"].as_str()),
            (Some("JWT"), Some("test-key-1"))
        );
        let claims = part(&token, 1);
        assert_eq!(claims["exp"], answer["expires"]);
        assert_eq!(
            claims["exp"].as_u64(),
            claims["iat"].as_u64().map(|iat| iat + 120)
        );
        verify_in_rust(&key, &token);
        // The same token with another subject must not verify anywhere.
        let mut forged: Vec<String> = token.split('.').map(str::to_owned).collect();
        forged[1] = URL_SAFE_NO_PAD.encode(claims.to_string().replace("user-1", "user-2"));
        for token in [token.clone(), forged.join(".")] {
            cases.push(json!({"alg": key.algorithm.as_str(), "key": key.public, "token": token}));
        }
    }
    let Some(dir) = jose_dir() else { return };
    let results = jose_verify(&dir, &Value::Array(cases.clone()));
    for (case, result) in cases.chunks(2).zip(results.chunks(2)) {
        let alg = &case[0]["alg"];
        assert_eq!(
            result[0]["ok"], true,
            "jose refused our {alg} token: {}",
            result[0]
        );
        assert_eq!(result[0]["payload"]["sub"], "user-1");
        assert_eq!(result[0]["payload"]["aud"], "authenticated");
        assert_eq!(result[1]["ok"], false, "jose accepted a forged {alg} token");
    }
}

fn verify_in_rust(key: &crate::common::TestKey, token: &str) {
    let (signed, sig) = token.rsplit_once('.').expect("signature");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("base64url");
    let spki = |pem: &str| {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("der")
    };
    let ok = match key.algorithm {
        MintAlgorithm::Hs256 => {
            let hmac =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.public.as_bytes());
            aws_lc_rs::hmac::verify(&hmac, signed.as_bytes(), &sig).is_ok()
        }
        alg => {
            let scheme: &dyn signature::VerificationAlgorithm = match alg {
                MintAlgorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                MintAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
                _ => &signature::ED25519,
            };
            let der = spki(&key.public);
            // aws-lc-rs takes the key inside the SPKI for EC and Ed25519: the last bytes.
            let raw = match alg {
                MintAlgorithm::Es256 => &der[der.len() - 65..],
                MintAlgorithm::EdDsa => &der[der.len() - 32..],
                _ => &der[..],
            };
            UnparsedPublicKey::new(scheme, raw)
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }
    };
    assert!(
        ok,
        "{} signature does not verify with the public key",
        key.algorithm
    );
}

#[tokio::test]
async fn claims_are_the_policys_with_templates_filled_and_a_random_jti() {
    let app = app(MintAlgorithm::Hs256, Some(HS256_SECRET)).await;
    let (status, first) = mint(&app, r#"{"subject":"user-2"}"#).await;
    assert_eq!(status, 200, "{first}");
    let mut claims = part(first["token"].as_str().expect("token"), 1);
    let map = claims.as_object_mut().expect("object");
    let (iat, exp, jti) = (map.remove("iat"), map.remove("exp"), map.remove("jti"));
    assert_eq!(
        exp.and_then(|e| e.as_u64()),
        iat.and_then(|i| i.as_u64()).map(|i| i + 900),
        "default: the cap"
    );
    assert_eq!(
        claims,
        json!({"iss": "https://app.test/auth/v1", "aud": "authenticated", "role": "authenticated",
               "email": "user-2@e2e.test", "ci": {"repository_id": DEFAULT_REPOSITORY_ID, "run": "9876543210"},
               "sub": "user-2"})
    );
    let (_, second) = mint(&app, r#"{"subject":"user-2"}"#).await;
    let jti2 = part(second["token"].as_str().expect("token"), 1)["jti"].clone();
    assert!(
        jti.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|j| j.len() == 22),
        "{jti:?}"
    );
    assert_ne!(jti, Some(jti2), "every token gets its own jti");
}

#[tokio::test]
async fn refusals_name_their_reason() {
    let app = app(MintAlgorithm::Hs256, Some(HS256_SECRET)).await;
    let cases = [
        (
            r#"{"subject":"admin"}"#,
            r#"{"error":"bad_request","reason":"subject_not_allowed"}"#,
        ),
        (
            r#"{"subject":"User-1"}"#,
            r#"{"error":"bad_request","reason":"subject_not_allowed"}"#,
        ),
        (
            r#"{"subject":"user-1","claims":{"role":"service_role"}}"#,
            r#"{"error":"bad_request","reason":"claim_not_allowed"}"#,
        ),
        (
            r#"{"subject":"user-1","claims":{"exp":9999999999}}"#,
            r#"{"error":"bad_request","reason":"claim_not_allowed"}"#,
        ),
        (
            r#"{"subject":"user-1","claims":{"iss":"x"}}"#,
            r#"{"error":"bad_request","reason":"claim_not_allowed"}"#,
        ),
        (
            r#"{"subject":"user-1","claims":{"sub":"user-2"}}"#,
            r#"{"error":"bad_request","reason":"claim_not_allowed"}"#,
        ),
        (
            r#"{"subject":"user-1","maxAge":901}"#,
            r#"{"error":"bad_request","reason":"max_age_too_long"}"#,
        ),
        (
            r#"{"subject":"user-1","maxAge":0}"#,
            r#"{"error":"bad_request"}"#,
        ),
        (
            r#"{"subject":"user-1","maxAge":"60"}"#,
            r#"{"error":"bad_request"}"#,
        ),
        (
            r#"{"subject":"user-1","sub":"user-2"}"#,
            r#"{"error":"bad_request"}"#,
        ),
        (r#"{"claims":{}}"#, r#"{"error":"bad_request"}"#),
        (r#"["user-1"]"#, r#"{"error":"bad_request"}"#),
    ];
    for (body, expected) in cases {
        let answer = app.post(Some(&app.good_token()), body.to_owned()).await;
        assert_answer(&answer, 400, expected);
    }
    assert_answer(
        &app.post(None, REQUEST).await,
        401,
        r#"{"error":"unauthorized"}"#,
    );
    let (status, answer) = mint(&app, r#"{"subject":"user-1","maxAge":900}"#).await;
    assert_eq!(status, 200, "the cap itself is allowed: {answer}");
}

#[tokio::test]
async fn no_key_is_misconfigured_and_production_has_no_route() {
    let unready = app(MintAlgorithm::Rs256, None).await;
    assert_eq!(unready.health().await["endpoints"][0]["ready"], false);
    assert_answer(
        &unready.post(Some(&unready.good_token()), REQUEST).await,
        500,
        r#"{"error":"misconfigured"}"#,
    );
    let production = app_in("production", MintAlgorithm::Hs256, Some(HS256_SECRET)).await;
    assert_answer(
        &production
            .post(Some(&production.good_token()), REQUEST)
            .await,
        404,
        "Not Found",
    );
}

#[tokio::test]
async fn a_key_that_does_not_fit_its_algorithm_stops_start_up() {
    let keys = keys();
    let issuer = ci_fixtures::MockIssuer::start().await;
    let cases = [
        (
            MintAlgorithm::Rs256,
            keys[2].private.clone(),
            "not a RS256 key",
        ),
        (
            MintAlgorithm::Es256,
            keys[1].private.clone(),
            "not a ES256 key",
        ),
        (
            MintAlgorithm::EdDsa,
            keys[2].private.clone(),
            "not a EdDSA key",
        ),
        (MintAlgorithm::Hs256, keys[3].private.clone(), "PEM block"),
        (
            MintAlgorithm::Rs256,
            keys[1].public.clone(),
            "only verifies",
        ),
        (MintAlgorithm::Hs256, "short".to_owned(), "at least 32"),
    ];
    for (algorithm, key, message) in cases {
        let built = TestApp::builder(tokens_mint::endpoint_with(Some(algorithm)))
            .strict()
            .policy_keys(CONFIG)
            .var(KEY_VAR, key.as_str())
            .router_for(&issuer);
        let error = built.expect_err("start-up must stop").to_string();
        assert!(
            error.starts_with(&format!("{KEY_VAR}: ")) && error.contains(message),
            "{algorithm}: {error}"
        );
        assert!(
            !error.contains(&key[key.len().saturating_sub(40)..]),
            "the key is in the error"
        );
    }
    let no_algorithm = TestApp::builder(tokens_mint::endpoint_with(None))
        .strict()
        .policy_keys(CONFIG)
        .var(KEY_VAR, HS256_SECRET)
        .router_for(&issuer)
        .expect_err("a key without its algorithm stops start-up")
        .to_string();
    assert!(
        no_algorithm.contains("TOKENS_MINT_ALGORITHM is not"),
        "{no_algorithm}"
    );
    let bad_config = TestApp::builder(tokens_mint::endpoint_with(Some(MintAlgorithm::Hs256)))
        .strict()
        .policy_keys("[endpoints.\"tokens/mint\".config]\nsubjects = []\n")
        .var(KEY_VAR, HS256_SECRET)
        .router_for(&issuer)
        .expect_err("an empty allowlist stops start-up")
        .to_string();
    assert!(bad_config.contains("config.subjects"), "{bad_config}");
    // The one-line form some secret stores keep a PEM in.
    let flat = keys[1].private.trim().replace('\n', "\\n");
    let app = TestApp::builder(tokens_mint::endpoint_with(Some(MintAlgorithm::Rs256)))
        .strict()
        .policy_keys(CONFIG)
        .var(KEY_VAR, flat)
        .start_with(issuer)
        .expect("a PEM with literal \\n parses");
    assert_eq!(mint(&app, REQUEST).await.0, 200);
}
