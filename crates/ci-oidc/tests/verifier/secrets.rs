//! Tokens never show up in Debug or Display output of anything this crate hands out, and the
//! policy format refuses unknown or malformed keys.

use crate::common::{AUD, policy, setup, verify};
use ci_oidc::{EndpointPolicy, IssuerConfig, SecretString, WorkflowClaim};
use serde_json::json;

#[tokio::test]
async fn debug_and_display_never_show_the_token() {
    let (issuer, verifier) = setup().await;
    let raw = issuer.token(AUD).build();
    let secret = SecretString::new(raw.clone());
    let payload = raw.split('.').nth(1).unwrap().to_owned();
    let signature = raw.rsplit('.').next().unwrap().to_owned();
    let rejected = verify(
        &verifier,
        &issuer.token(AUD).claim("repository", "x/y").build(),
        &policy(),
    )
    .await
    .unwrap_err();
    let claims = verifier.verify(&secret, &policy()).await.unwrap();
    let shown = [
        format!("{secret:?}"),
        format!("{secret}"),
        format!("{:#?}", (&secret, Some(secret.clone()))),
        format!("{verifier:?}"),
        format!("{:?}", verifier.keys()),
        format!("{rejected} {rejected:?}"),
        format!("{claims:?}"),
    ];
    for s in &shown {
        assert!(
            !s.contains(&raw) && !s.contains(&payload) && !s.contains(&signature),
            "leak in {s}"
        );
    }
    assert_eq!(shown[0], "[redacted]");
    assert_eq!(shown[1], "[redacted]");
    assert!(shown[3].contains(&issuer.issuer_url()), "{}", shown[3]);
}

#[test]
fn policy_keys_are_strict() {
    let p: EndpointPolicy = serde_json::from_value(json!({
        "audience": AUD,
        "repositories": ["octo-org/octo-repo"],
        "repository_owner_ids": ["987654321"],
        "workflows": ["octo-org/octo-repo/.github/workflows/smoke.yaml"],
        "workflow_claim": "job_workflow_ref",
        "events": ["push"],
    }))
    .unwrap();
    assert_eq!(p.workflow_claim, WorkflowClaim::JobWorkflowRef);
    assert!(p.repository_ids.is_empty() && !p.single_use && !p.bind_deployment);
    p.validate().unwrap();

    let unknown = json!({
        "audience": AUD, "repositories": ["a/b"], "workflows": ["a/b/.github/workflows/x.yml"], "workflow": "typo",
    });
    assert!(serde_json::from_value::<EndpointPolicy>(unknown).is_err());
    let missing_workflows = json!({ "audience": AUD, "repositories": ["a/b"] });
    assert!(serde_json::from_value::<EndpointPolicy>(missing_workflows).is_err());
    let bad_claim = json!({
        "audience": AUD, "repositories": ["a/b"], "workflows": ["a/b/.github/workflows/x.yml"], "workflow_claim": "sub",
    });
    assert!(serde_json::from_value::<EndpointPolicy>(bad_claim).is_err());
    assert!(
        serde_json::from_value::<IssuerConfig>(json!({"url": "https://x", "jwks": "y"})).is_err()
    );
}
