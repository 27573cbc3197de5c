//! Where keys come from and which are used: discovery (its `issuer` must match), `jwks_url` and
//! `jwks_file` sources, issuer URL rules, unusable keys skipped one by one, clones sharing a store.
//! (Refetch, outages and rotation are in `keystore.rs`.)

use std::sync::Arc;
use std::time::Duration;

use crate::common::{AUD, opts, policy, remote_store, setup, setup_with, verify};
use ci_fixtures::MockIssuer;
use ci_oidc::{IssuerConfig, KeyStore, KeyStoreError, KeyStoreOptions, RejectionKind, Verifier};
use serde_json::json;

#[tokio::test]
async fn discovery_issuer_must_match_exactly() {
    let issuer = MockIssuer::start().await;
    for claimed in [
        "https://token.actions.githubusercontent.com".to_owned(),
        format!("{}/", issuer.issuer_url()),
        issuer.issuer_url().to_uppercase(),
    ] {
        issuer.set_discovery_issuer(Some(&claimed));
        let err = remote_store(&issuer, opts()).prefetch().await.unwrap_err();
        assert!(
            matches!(&err, KeyStoreError::IssuerMismatch { actual, .. } if *actual == claimed),
            "{err}"
        );
    }
    assert_eq!(
        issuer.jwks_requests(),
        0,
        "no keys fetched from a mismatched discovery"
    );
    issuer.set_discovery_issuer(None);
    remote_store(&issuer, opts())
        .prefetch()
        .await
        .expect("matching discovery");
    assert_eq!(issuer.discovery_requests(), 4);
}

#[tokio::test]
async fn jwks_url_and_jwks_file_sources() {
    let issuer = MockIssuer::start().await;
    let cfg = IssuerConfig {
        url: issuer.issuer_url(),
        jwks_url: Some(issuer.jwks_url()),
        jwks_file: None,
    };
    let keys = KeyStore::from_issuer_config(&cfg, opts()).unwrap();
    keys.prefetch().await.unwrap();
    assert_eq!(issuer.discovery_requests(), 0);
    verify(
        &Verifier::new(issuer.issuer_url(), keys),
        &issuer.token(AUD).build(),
        &policy(),
    )
    .await
    .unwrap();

    let path =
        std::env::temp_dir().join(format!("ci-oidc-jwks-{}.json", ci_fixtures::token::uuid()));
    std::fs::write(&path, issuer.jwks_json()).unwrap();
    let cfg = IssuerConfig {
        url: issuer.issuer_url(),
        jwks_url: None,
        jwks_file: Some(path.clone()),
    };
    let keys = KeyStore::from_issuer_config(&cfg, opts()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!keys.is_remote() && keys.spawn_refresh().is_none());
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    verify(&verifier, &issuer.token(AUD).build(), &policy())
        .await
        .unwrap();
    // A static store never fetches, even for unknown kids.
    let err = verify(&verifier, &issuer.token(AUD).kid("x").build(), &policy())
        .await
        .unwrap_err();
    assert_eq!(err.kind, RejectionKind::UnknownKey);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[test]
fn issuer_urls_are_https_or_loopback_http() {
    for (url, ok) in [
        ("https://token.actions.githubusercontent.com", true),
        ("http://127.0.0.1:9", true),
        ("http://token.actions.githubusercontent.com", false),
        ("http://10.0.0.1", false),
        ("file:///etc/jwks.json", false),
    ] {
        let cfg = IssuerConfig {
            url: url.to_owned(),
            jwks_url: None,
            jwks_file: None,
        };
        assert_eq!(
            KeyStore::from_issuer_config(&cfg, KeyStoreOptions::default()).is_ok(),
            ok,
            "{url}"
        );
    }
    let cfg = IssuerConfig {
        url: "https://token.actions.githubusercontent.com".into(),
        jwks_url: Some("http://keys.example.com/jwks".into()),
        jwks_file: None,
    };
    let err = KeyStore::from_issuer_config(&cfg, KeyStoreOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("issuer.jwks_url:"), "{err}");
}

#[tokio::test]
async fn unusable_keys_are_skipped_one_by_one() {
    let (issuer, _) = setup().await;
    let good = issuer.signing_key();
    let n = good.jwk()["n"].as_str().unwrap().to_owned();
    let short_n = &n[..171]; // 1024 bits
    let foreign = ci_fixtures::keys::shared_key(ci_fixtures::keys::FOREIGN_KEY).jwk();
    for jwk in [
        json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "kid": "small", "n": short_n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "badn", "n": "!!!", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "even-e", "n": n, "e": "AAI"}),
        json!({"kty": "RSA", "kid": "no-e", "n": n}),
        json!({"kty": "RSA", "n": n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": 7, "n": n, "e": "AQAB"}),
        json!("not an object"),
        // Same kid as the real key but another modulus: the first one wins.
        json!({"kty": "RSA", "kid": good.kid(), "n": foreign["n"], "e": "AQAB"}),
    ] {
        issuer.publish_raw_jwk(jwk);
    }
    let keys = KeyStore::from_jwks_json(issuer.jwks_json().as_bytes()).expect("one usable key");
    assert_eq!(keys.kids(), vec![good.kid().to_owned()]);
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    verify(&verifier, &issuer.token(AUD).build(), &policy())
        .await
        .expect("good key works");
    let err = verify(
        &verifier,
        &issuer.token(AUD).sign_with_foreign_key().build(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, RejectionKind::Signature);

    for bad in [
        r#"{"keys":[]}"#,
        r#"{"keys":[{"kty":"EC"}]}"#,
        "[]",
        "garbage",
        r#"{"nokeys":1}"#,
    ] {
        assert!(KeyStore::from_jwks_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn clones_share_one_store() {
    let (issuer, verifier) = setup_with(opts()).await;
    let clone = verifier.clone();
    let keys: Arc<KeyStore> = Arc::new(verifier.keys().clone());
    tokio::time::sleep(opts().unknown_kid_cooldown + Duration::from_millis(50)).await;
    let _ = verify(&clone, &issuer.token(AUD).kid("x").build(), &policy()).await;
    assert_eq!(keys.fetch_count(), 2);
    assert_eq!(verifier.keys().fetch_count(), 2);
}
