//! `single_use = true` through the kit's extractor, in process (the in-memory store and test
//! stores; the Redis store has `replay_redis.rs`): one use per token, a logged replay, a required
//! `jti`, one winner among concurrent presentations, refused tokens never recorded (refused bodies:
//! `single_use_body.rs`), and a store that cannot answer failing closed with 503.

use std::sync::{Arc, Mutex};

use crate::common::*;
use crate::guards_support::*;
use ci_endpoint::server::{
    Deployment,
    replay::{Recorded, ReplayBackend, ReplayError, ReplayKey, ReplayStore, StoreFuture},
};
use serde_json::json;

const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
const UNAVAILABLE: &str = r#"{"error":"unavailable"}"#;
const SINGLE_USE: &str = "single_use = true\n";

fn preview() -> Deployment {
    Deployment::in_environment("preview")
}

#[tokio::test]
async fn a_token_is_accepted_once_and_its_replay_is_logged() {
    let app = guarded_app(SINGLE_USE, preview(), None).await;
    let token = app.token().claim("jti", "jti-once-1").build();
    let (logs, _guard) = Capture::start();

    let first = app.post(Some(&token), GOOD_BODY).await;
    assert_eq!(first.status, 200, "{}", first.body);
    for _ in 0..3 {
        let again = app.post(Some(&token), GOOD_BODY).await;
        assert_answer(&again, 401, UNAUTHORIZED);
    }
    // Another token of the same run (another jti) is a separate use.
    let other = app.token().claim("jti", "jti-once-2").build();
    assert_eq!(app.post(Some(&other), GOOD_BODY).await.status, 200);

    let text = logs.text();
    assert_eq!(text.matches("reason=\"replay\"").count(), 3, "{text}");
    assert!(
        text.contains("actual=\"jti-once-1\" (already used)"),
        "{text}"
    );
    assert!(text.contains("status=401"));
    for segment in token.split('.') {
        assert!(!text.contains(segment), "a token segment reached the log");
    }
}

#[tokio::test]
async fn without_single_use_a_token_is_reusable() {
    let app = guarded_app("", preview(), None).await;
    let token = app.good_token();
    for _ in 0..3 {
        assert_eq!(app.post(Some(&token), GOOD_BODY).await.status, 200);
    }
    // Nor does it need a jti.
    let no_jti = app.token().without("jti").build();
    assert_eq!(app.post(Some(&no_jti), GOOD_BODY).await.status, 200);
}

#[tokio::test]
async fn a_missing_or_empty_jti_is_refused_and_logged() {
    let app = guarded_app(SINGLE_USE, preview(), None).await;
    let (logs, _guard) = Capture::start();
    for token in [
        app.token().without("jti").build(),
        app.token().claim("jti", "").build(),
    ] {
        let answer = app.post(Some(&token), GOOD_BODY).await;
        assert_answer(&answer, 401, UNAUTHORIZED);
    }
    assert_eq!(logs.text().matches("reason=\"missing_jti\"").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_presentations_give_one_success() {
    let app = Arc::new(guarded_app(SINGLE_USE, preview(), None).await);
    let token = app.good_token();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, token, barrier) = (app.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.post(Some(&token), GOOD_BODY).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status != 200 {
            assert_answer(&answer, 401, UNAUTHORIZED);
        }
        statuses.push(answer.status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn refused_tokens_are_never_recorded() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    // Room for one entry: if any refused token were recorded, the good one would find it full.
    let store = ReplayStore::in_memory_with_capacity(1);
    let app = guarded(SINGLE_USE, preview(), Some(store))
        .router_for(&issuer)
        .expect("app builds");
    let jti = "shared-jti";
    let token = |b: ci_fixtures::TokenBuilder| b.claim("jti", jti).build();
    for (bad, status) in [
        (token(issuer.token(AUDIENCE).expired()), 401),
        (token(issuer.token(AUDIENCE).sign_with_foreign_key()), 401),
        (token(issuer.token("https://other.example/aud")), 401),
        (
            token(issuer.token(AUDIENCE).claim("repository", "evil/repo")),
            403,
        ),
        (
            token(
                issuer
                    .token(AUDIENCE)
                    .workflow("octo-org/octo-repo/.github/workflows/other.yaml"),
            ),
            401,
        ),
        (
            token(issuer.token(AUDIENCE).event("pull_request_target")),
            401,
        ),
    ] {
        let answer = post_echo(&app, Some(&bad)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
    let good = token(issuer.token(AUDIENCE));
    assert_eq!(post_echo(&app, Some(&good)).await.status, 200);
    assert_answer(&post_echo(&app, Some(&good)).await, 401, UNAUTHORIZED);

    // The store is now full of live entries: a new token is refused (503), not let through and
    // not allowed to evict a live entry.
    let next = issuer.token(AUDIENCE).build();
    let answer = post_echo(&app, Some(&next)).await;
    assert_answer(&answer, 503, UNAVAILABLE);
    assert_eq!(answer.headers["retry-after"], "5");
}

/// What a [`Scripted`] store was asked: key, `expires_at`, `now`.
pub(crate) type Calls = Arc<Mutex<Vec<(ReplayKey, i64, i64)>>>;

/// A test store: answers with `answer` and remembers what it was asked.
#[derive(Debug)]
struct Scripted {
    answer: Result<Recorded, ReplayError>,
    calls: Calls,
}

impl ReplayBackend for Scripted {
    fn record<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, Recorded> {
        self.calls.lock().unwrap().push((*key, expires_at, now));
        let answer = self.answer.clone();
        Box::pin(async move { answer })
    }
    fn describe(&self) -> String {
        "scripted test store".to_owned()
    }
}

pub(crate) fn scripted(answer: Result<Recorded, ReplayError>) -> (ReplayStore, Calls) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let store = ReplayStore::custom(Scripted {
        answer,
        calls: calls.clone(),
    });
    (store, calls)
}

#[tokio::test]
async fn a_store_that_cannot_answer_fails_closed_with_503() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let (logs, _guard) = Capture::start();
    for error in [
        ReplayError::Unavailable("connection refused".into()),
        ReplayError::Full { capacity: 9 },
    ] {
        let (store, calls) = scripted(Err(error));
        let app = guarded(SINGLE_USE, preview(), Some(store))
            .router_for(&issuer)
            .expect("app builds");
        let answer = post_echo(&app, Some(&good_token(&issuer))).await;
        assert_answer(&answer, 503, UNAVAILABLE);
        assert_eq!(answer.headers["retry-after"], "5");
        assert_eq!(calls.lock().unwrap().len(), 1);
    }
    let text = logs.text();
    assert_eq!(
        text.matches("reason=\"replay_store_unavailable\"").count(),
        2,
        "{text}"
    );
    assert!(text.contains("scripted test store"));
}

#[tokio::test]
async fn a_store_that_hangs_times_out_into_503() {
    #[derive(Debug)]
    struct Hangs;
    impl ReplayBackend for Hangs {
        fn record<'a>(&'a self, _: &'a ReplayKey, _: i64, _: i64) -> StoreFuture<'a, Recorded> {
            Box::pin(std::future::pending())
        }
        fn describe(&self) -> String {
            "hangs".to_owned()
        }
    }
    let store = ReplayStore::custom(Hangs).with_timeout(std::time::Duration::from_millis(100));
    let app = guarded_app(SINGLE_USE, preview(), Some(store)).await;
    let started = std::time::Instant::now();
    let answer = app.post(Some(&app.good_token()), GOOD_BODY).await;
    assert_answer(&answer, 503, UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn the_record_outlives_the_token_and_is_namespaced() {
    let (store, calls) = scripted(Ok(Recorded::First));
    let app = guarded_app(SINGLE_USE, preview(), Some(store)).await;
    let iat = ci_fixtures::token::now();
    let token = app.token().issued_at(iat).claim("jti", "j-1").build();
    assert_eq!(app.post(Some(&token), GOOD_BODY).await.status, 200);
    let calls = calls.lock().unwrap();
    let (key, expires_at, now) = calls[0];
    // exp (iat + 300) + the verifier's 60 s leeway + the 60 s margin.
    assert_eq!(
        expires_at,
        iat + 300 + ci_oidc::LEEWAY_SECS + ci_endpoint::server::replay::RETENTION_MARGIN_SECS
    );
    assert!((now - iat).abs() < 5);
    assert_eq!(
        key,
        ReplayKey::new(&app.issuer().issuer_url(), AUDIENCE, "j-1")
    );
}

#[tokio::test]
async fn a_binding_refusal_records_nothing() {
    let issuer = ci_fixtures::MockIssuer::start().await;
    let (store, calls) = scripted(Ok(Recorded::First));
    let extra = format!("{SINGLE_USE}bind_deployment = true\n");
    let app = guarded(&extra, pr_deployment(Some("99"), None), Some(store))
        .router_for(&issuer)
        .expect("app builds");
    let answer = post_echo(&app, Some(&good_token(&issuer))).await;
    assert_answer(&answer, 401, UNAUTHORIZED);
    assert!(calls.lock().unwrap().is_empty());
    // The right deployment records it.
    let (store, calls) = scripted(Ok(Recorded::First));
    let app = guarded(&extra, pr_deployment(Some("12"), None), Some(store))
        .router_for(&issuer)
        .expect("app builds");
    let token = issuer.token(AUDIENCE).claim("jti", json!("j-2")).build();
    assert_eq!(post_echo(&app, Some(&token)).await.status, 200);
    assert_eq!(calls.lock().unwrap().len(), 1);
}
