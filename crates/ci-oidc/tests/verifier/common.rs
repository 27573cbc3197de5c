//! Shared set-up for the ci-oidc integration tests: a mock issuer, a verifier fetching its
//! keys through discovery, and the default endpoint policy matching the fixture's tokens.
#![allow(dead_code)]

use std::time::Duration;

use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, MockIssuer};
use ci_oidc::{
    EndpointPolicy, IssuerConfig, KeyStore, KeyStoreOptions, Rejection, SecretString, Verifier,
};

pub(crate) const AUD: &str = "https://preview.example.com/api/~/ci/flags/encrypt-override";

pub(crate) fn policy() -> EndpointPolicy {
    EndpointPolicy {
        repository_owner_ids: vec![ci_fixtures::DEFAULT_OWNER_ID.into()],
        ..EndpointPolicy::new(AUD, DEFAULT_REPOSITORY, DEFAULT_WORKFLOW)
    }
}

/// Options for tests: short timeout and cooldown so outage and rotation tests stay fast.
pub(crate) fn opts() -> KeyStoreOptions {
    KeyStoreOptions {
        timeout: Duration::from_millis(1500),
        unknown_kid_cooldown: Duration::from_millis(300),
        ..KeyStoreOptions::default()
    }
}

pub(crate) fn remote_store(issuer: &MockIssuer, opts: KeyStoreOptions) -> KeyStore {
    let cfg = IssuerConfig {
        url: issuer.issuer_url(),
        jwks_url: None,
        jwks_file: None,
    };
    KeyStore::from_issuer_config(&cfg, opts).expect("key store")
}

/// A started issuer and a prefetched verifier using discovery.
pub(crate) async fn setup_with(opts: KeyStoreOptions) -> (MockIssuer, Verifier) {
    let issuer = MockIssuer::start().await;
    let keys = remote_store(&issuer, opts);
    keys.prefetch().await.expect("prefetch");
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    (issuer, verifier)
}

pub(crate) async fn setup() -> (MockIssuer, Verifier) {
    setup_with(opts()).await
}

pub(crate) async fn verify(
    verifier: &Verifier,
    token: &str,
    policy: &EndpointPolicy,
) -> Result<ci_oidc::GitHubClaims, Rejection> {
    verifier.verify(&SecretString::new(token), policy).await
}
