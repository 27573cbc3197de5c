//! Key-store behaviour against the mock issuer: single-flight refetch on unknown kids,
//! outages with cached keys, rotation and background refresh (sources: `keystore_sources.rs`).

use std::time::Duration;

use crate::common::{AUD, opts, policy, remote_store, setup, verify};
use ci_fixtures::{JwksFault, MockIssuer};
use ci_oidc::{KeyStoreError, KeyStoreOptions, Reason, RejectionKind, Verifier};

async fn unknown_kid_flood(verifier: &Verifier, issuer: &MockIssuer, n: usize) {
    // A token that arrives after the flood's one refetch finished finds the cooldown running:
    // "retry later" rather than "unknown key". Both are refusals.
    unknown_kid_flood_refused_as(
        verifier,
        issuer,
        n,
        &[RejectionKind::UnknownKey, RejectionKind::KeysUnavailable],
    )
    .await;
}

/// `n` concurrent tokens with invented kids; each refused as one of `kinds`.
async fn unknown_kid_flood_refused_as(
    verifier: &Verifier,
    issuer: &MockIssuer,
    n: usize,
    kinds: &[RejectionKind],
) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let token = issuer
            .token(AUD)
            .kid(&format!("random-kid-{i}-{}", ci_fixtures::token::uuid()))
            .build();
        let verifier = verifier.clone();
        tasks.push(tokio::spawn(async move {
            verify(&verifier, &token, &policy()).await
        }));
    }
    for task in tasks {
        let err = task.await.expect("task").unwrap_err();
        assert!(kinds.contains(&err.kind), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_unknown_kids_cause_one_fetch() {
    let (issuer, verifier) = setup().await;
    assert_eq!(issuer.jwks_requests(), 1);
    // Past the cooldown, a flood of invented kids costs one refetch, plus (the tokens arriving
    // after it, inside the cooldown it armed, with claims that would pass the policy) at most one
    // rotation probe...
    tokio::time::sleep(opts().unknown_kid_cooldown + Duration::from_millis(50)).await;
    unknown_kid_flood(&verifier, &issuer, 100).await;
    let after_first = issuer.jwks_requests();
    assert!((2..=3).contains(&after_first), "{after_first}");
    assert_eq!(verifier.keys().fetch_count(), after_first as u64);
    // ...and a second flood inside the cooldown and the probe interval costs at most the one
    // probe in all; its callers are told to retry (503) or that the fresh keys lack the kid.
    unknown_kid_flood(&verifier, &issuer, 100).await;
    assert_eq!(issuer.jwks_requests(), 3);
    unknown_kid_flood_refused_as(&verifier, &issuer, 100, &[RejectionKind::KeysUnavailable]).await;
    assert_eq!(issuer.jwks_requests(), 3);
    // Known keys never waited for any of it.
    verify(&verifier, &issuer.token(AUD).build(), &policy())
        .await
        .expect("valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flood_before_any_fetch_is_single_flight_too() {
    let issuer = MockIssuer::start().await;
    let keys = remote_store(
        &issuer,
        KeyStoreOptions {
            unknown_kid_cooldown: Duration::ZERO,
            ..opts()
        },
    );
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let token = issuer.token(AUD).build();
        let verifier = verifier.clone();
        tasks.push(tokio::spawn(async move {
            verify(&verifier, &token, &policy()).await
        }));
    }
    for task in tasks {
        task.await
            .expect("task")
            .expect("valid after the one fetch");
    }
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn outage_after_start_keeps_verifying_with_cached_keys() {
    let (issuer, verifier) = setup().await;
    let cooldown = opts().unknown_kid_cooldown + Duration::from_millis(50);
    for fault in [
        JwksFault::Status(500),
        JwksFault::Status(404),
        JwksFault::Empty,
        JwksFault::Garbage,
        JwksFault::Slow(Duration::from_secs(5)),
    ] {
        issuer.set_fault(fault.clone());
        tokio::time::sleep(cooldown).await;
        // Force a refetch through an unknown kid; it fails (or times out)...
        let before = issuer.jwks_requests();
        let err = verify(&verifier, &issuer.token(AUD).kid("nope").build(), &policy())
            .await
            .unwrap_err();
        assert_eq!(err.kind, RejectionKind::UnknownKey, "{fault:?}");
        assert_eq!(issuer.jwks_requests(), before + 1, "{fault:?}");
        // ...and the cached keys still verify.
        verify(&verifier, &issuer.token(AUD).build(), &policy())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        // A direct refresh reports the failure without dropping the keys.
        assert!(verifier.keys().prefetch().await.is_err(), "{fault:?}");
        assert_eq!(
            verifier.keys().kids(),
            vec![issuer.signing_key().kid().to_owned()]
        );
    }
}

#[tokio::test]
async fn slow_jwks_is_cut_at_the_timeout() {
    let issuer = MockIssuer::start().await;
    issuer.set_fault(JwksFault::Slow(Duration::from_secs(30)));
    let keys = remote_store(
        &issuer,
        KeyStoreOptions {
            timeout: Duration::from_millis(300),
            ..opts()
        },
    );
    let started = std::time::Instant::now();
    let err = keys.prefetch().await.unwrap_err();
    assert!(
        matches!(err, KeyStoreError::Timeout(_) | KeyStoreError::Fetch(_)),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn issuer_down_from_the_start_means_keys_unavailable() {
    let issuer = MockIssuer::start().await;
    issuer.set_fault(JwksFault::Status(503));
    let keys = remote_store(&issuer, opts());
    assert!(keys.prefetch().await.is_err());
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    let err = verify(&verifier, &issuer.token(AUD).build(), &policy())
        .await
        .unwrap_err();
    assert_eq!(err.kind, RejectionKind::KeysUnavailable);
    assert_eq!(err.reason(), Reason::KeysUnavailable);
    // Once the issuer recovers (and the cooldown passed), the next token loads the keys.
    issuer.set_fault(JwksFault::None);
    tokio::time::sleep(opts().unknown_kid_cooldown + Duration::from_millis(50)).await;
    verify(&verifier, &issuer.token(AUD).build(), &policy())
        .await
        .expect("recovered");
}

#[tokio::test]
async fn a_key_published_right_after_start_up_is_accepted_at_once() {
    // The start-up fetch must not start the unknown-kid cooldown: it did not look for this key.
    // (Counting it refused the new key with 401 for a whole cooldown.)
    let issuer = MockIssuer::start().await;
    let keys = remote_store(
        &issuer,
        KeyStoreOptions {
            unknown_kid_cooldown: Duration::from_secs(3600),
            ..opts()
        },
    );
    keys.prefetch().await.expect("prefetch");
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    issuer.rotate();
    let published = std::time::Instant::now();
    let new = issuer.token(AUD).build();
    verify(&verifier, &new, &policy())
        .await
        .expect("the new key is fetched on first sight");
    let elapsed = published.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(issuer.jwks_requests(), 2);
}

/// The review's finding: one anonymous token with a random `kid` armed the refetch cooldown, and a
/// real rotation inside it failed the job. A token whose claims would pass the policy now gets one
/// rotation probe per interval, so the rotated key is fetched at once.
#[tokio::test]
async fn a_new_key_inside_the_cooldown_is_fetched_by_a_rotation_probe() {
    let issuer = MockIssuer::start().await;
    let probe = Duration::from_secs(2);
    let keys = remote_store(
        &issuer,
        KeyStoreOptions {
            unknown_kid_cooldown: Duration::from_secs(3600),
            rotation_probe_interval: probe,
            ..opts()
        },
    );
    keys.prefetch().await.expect("prefetch");
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    // An anonymous invented kid spends the cooldown...
    let err = verify(
        &verifier,
        &issuer.token(AUD).kid("invented").build(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, RejectionKind::UnknownKey);
    // ...and tokens with invented kids and claims the policy refuses (another audience, another
    // workflow) never probe, however many.
    let before = issuer.jwks_requests();
    for token in [
        issuer
            .token("https://other.example/api/~/ci/x")
            .kid("k1")
            .build(),
        issuer
            .token(AUD)
            .workflow("octo-org/octo-repo/.github/workflows/other.yaml")
            .kid("k2")
            .build(),
        issuer.token(AUD).expired().kid("k3").build(),
    ] {
        let err = verify(&verifier, &token, &policy()).await.unwrap_err();
        assert_eq!(err.kind, RejectionKind::KeysUnavailable, "{err:?}");
    }
    assert_eq!(
        issuer.jwks_requests(),
        before,
        "no probe for claims the policy refuses"
    );
    // The issuer rotates inside the cooldown: the job's token probes and is accepted at once.
    issuer.rotate();
    let new = issuer.token(AUD).build();
    verify(&verifier, &new, &policy())
        .await
        .expect("the probe fetched the new key");
    assert_eq!(issuer.jwks_requests(), before + 1);
    // A second rotation inside the probe interval: retry later (503), then accepted.
    issuer.rotate();
    let newer = issuer.token(AUD).build();
    let err = verify(&verifier, &newer, &policy()).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeysUnavailable, "{err:?}");
    assert_eq!(issuer.jwks_requests(), before + 1, "one probe per interval");
    tokio::time::sleep(probe + Duration::from_millis(50)).await;
    verify(&verifier, &newer, &policy())
        .await
        .expect("accepted on retry");
}

#[tokio::test]
async fn rotation_is_picked_up_on_unknown_kid() {
    let (issuer, verifier) = setup().await;
    let old = issuer.token(AUD).build();
    let new_kid = issuer.rotate();
    let new = issuer.token(AUD).build();
    tokio::time::sleep(opts().unknown_kid_cooldown + Duration::from_millis(50)).await;
    verify(&verifier, &new, &policy())
        .await
        .expect("new key fetched");
    assert!(verifier.keys().kids().contains(&new_kid));
    verify(&verifier, &old, &policy())
        .await
        .expect("old key still published");
    // Once the old key is retired and the store refreshed, its tokens are refused.
    issuer.retire_old_keys();
    verifier.keys().prefetch().await.expect("refresh");
    // Inside the unknown-kid cooldown the old token's claims pass the policy, so its rotation
    // probe refetches and shows the key is gone for good; so does the refetch after the cooldown.
    assert_eq!(
        verify(&verifier, &old, &policy()).await.unwrap_err().kind,
        RejectionKind::UnknownKey
    );
    tokio::time::sleep(opts().unknown_kid_cooldown + Duration::from_millis(50)).await;
    assert_eq!(
        verify(&verifier, &old, &policy()).await.unwrap_err().kind,
        RejectionKind::UnknownKey
    );
    verify(&verifier, &new, &policy()).await.expect("new key");
}

#[tokio::test]
async fn background_refresh_follows_max_age() {
    let issuer = MockIssuer::start().await;
    issuer.set_cache_control(Some("public, max-age=1"));
    let options = KeyStoreOptions {
        // Only the background task may pick up the new key in this test.
        unknown_kid_cooldown: Duration::from_secs(3600),
        min_max_age: Duration::from_millis(100),
        ..opts()
    };
    let keys = remote_store(&issuer, options);
    keys.prefetch().await.expect("prefetch");
    let task = keys.spawn_refresh().expect("remote store refreshes");
    let verifier = Verifier::new(issuer.issuer_url(), keys);
    issuer.rotate();
    issuer.retire_old_keys();
    let token = issuer.token(AUD).build();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    verify(&verifier, &token, &policy())
        .await
        .expect("refreshed in the background");
    assert!(issuer.jwks_requests() >= 2);
    // The task ends once the store is gone.
    drop(verifier);
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("task ended")
        .expect("no panic");
}
