//! Which check wins when several fail (the contract's order), and the exact reason strings
//! and expected/actual values a rejection carries for the logs.

use crate::common::{AUD, policy, setup, verify};
use ci_oidc::RejectionKind as K;
use serde_json::json;

#[tokio::test]
async fn reasons_match_the_contract_strings() {
    let (issuer, verifier) = setup().await;
    let err = verify(
        &verifier,
        &issuer.token(AUD).claim("repository", "a/b").build(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason().as_str(), "repo_mismatch");
    assert_eq!(err.check, "repository");
    assert_eq!(err.actual, "\"a/b\"");
    assert!(err.to_string().contains("octo-org/octo-repo"), "{err}");
    let err = verify(
        &verifier,
        &issuer
            .token(AUD)
            .workflow("octo-org/octo-repo/.github/workflows/x.yml")
            .build(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason().as_str(), "workflow_mismatch");
    let err = verify(&verifier, &issuer.token(AUD).expired().build(), &policy())
        .await
        .unwrap_err();
    assert_eq!(err.reason().as_str(), "invalid_token");
    let err = verify(
        &verifier,
        &issuer.token(AUD).claim("aud", json!([AUD])).build(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.expected, format!("{AUD:?}"));
    assert_eq!(err.actual, format!("[{AUD:?}]"));
}

#[tokio::test]
async fn checks_run_in_contract_order() {
    let (issuer, verifier) = setup().await;
    // Wrong repository and wrong workflow and denied event: the repository is reported (403).
    let t = issuer
        .token(AUD)
        .claim("repository", "evil/repo")
        .workflow("evil/repo/.github/workflows/x.yml")
        .event("pull_request_target")
        .build();
    assert_eq!(
        verify(&verifier, &t, &policy()).await.unwrap_err().kind,
        K::Repository
    );
    // Expired and wrong repository: the token is invalid first (401).
    let t = issuer
        .token(AUD)
        .claim("repository", "evil/repo")
        .expired()
        .build();
    assert_eq!(
        verify(&verifier, &t, &policy()).await.unwrap_err().kind,
        K::Expired
    );
    // Bad signature and everything else wrong: the signature is reported.
    let t = issuer
        .token(AUD)
        .claim("iss", "https://x")
        .claim("aud", "y")
        .sign_with_foreign_key()
        .build();
    assert_eq!(
        verify(&verifier, &t, &policy()).await.unwrap_err().kind,
        K::Signature
    );
}
