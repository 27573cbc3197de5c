//! The Redis replay store against a real `redis-server`: `SET NX EX` semantics and expiry, one
//! winner among concurrent presentations through separate connections (as separate replicas
//! have), an outage answered with errors (so 503) within the timeout and service back once Redis
//! returns, passwords kept out of errors. Uses `CI_PREVIEW_TEST_REDIS_URL` or starts its own
//! server; see `ci_fixtures::redis` for when these tests skip.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::guards_support::*;
use ci_endpoint::server::{
    Deployment,
    replay::{Recorded, ReplayError, ReplayKey, ReplayStore},
};
use ci_fixtures::redis::{RedisServer, TestRedis, own_redis_or_skip};
use ci_oidc::{SecretString, unix_now};

/// An audience no other test uses, so tests sharing one Redis never see each other's keys.
fn unique_audience(test: &str) -> String {
    format!("https://ci.test/{test}/{}", ci_fixtures::token::uuid())
}

fn store(url: &str) -> ReplayStore {
    ReplayStore::redis(&SecretString::new(url)).expect("URL parses")
}

#[tokio::test]
async fn set_nx_records_once_until_the_retention_ends() {
    let Some(redis) = TestRedis::get("set_nx_records_once_until_the_retention_ends") else {
        return;
    };
    let store = store(&redis.url());
    store.ping().await.unwrap();
    let key = ReplayKey::new("https://issuer", &unique_audience("set-nx"), "jti-1");
    let now = unix_now();
    assert_eq!(
        store.record(&key, now + 420, now).await,
        Ok(Recorded::First)
    );
    assert_eq!(
        store.record(&key, now + 420, now).await,
        Ok(Recorded::Replay)
    );

    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(key.redis_key())
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((415..=420).contains(&ttl), "ttl {ttl}");

    // A record whose time is up (or about to be) still lives at least a second, then goes.
    let short = ReplayKey::new("https://issuer", &unique_audience("set-nx"), "jti-2");
    assert_eq!(
        store.record(&short, now - 5, now).await,
        Ok(Recorded::First)
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        store.record(&short, now + 60, now).await,
        Ok(Recorded::First)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_records_through_separate_connections_have_one_winner() {
    let Some(redis) = TestRedis::get("fifty_concurrent_records") else {
        return;
    };
    // Five "replicas", each with its own connection.
    let replicas: Vec<ReplayStore> = (0..5).map(|_| store(&redis.url())).collect();
    for replica in &replicas {
        replica.ping().await.unwrap();
    }
    let key = ReplayKey::new("https://issuer", &unique_audience("fifty"), "jti");
    let now = unix_now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (replica, barrier) = (replicas[i % 5].clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                replica.record(&key, now + 300, now).await.unwrap()
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap() == Recorded::First {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

#[tokio::test]
async fn an_outage_fails_within_the_timeout_and_service_returns_with_redis() {
    let Some(mut redis) = own_redis_or_skip("an_outage_fails_within_the_timeout") else {
        return;
    };
    let store = store(&redis.url());
    let audience = unique_audience("outage");
    let now = unix_now();
    let key = |jti: &str| ReplayKey::new("https://issuer", &audience, jti);
    assert_eq!(
        store.record(&key("before"), now + 300, now).await,
        Ok(Recorded::First)
    );

    redis.stop();
    for attempt in 0..5 {
        let started = Instant::now();
        let result = store
            .record(&key(&format!("during-{attempt}")), now + 300, now)
            .await;
        assert!(
            matches!(
                result,
                Err(ReplayError::Unavailable(_) | ReplayError::Timeout(_))
            ),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        eprintln!(
            "during the outage, after {:?}: {result:?}",
            started.elapsed()
        );
    }

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store
            .record(&key(&format!("after-{attempt}")), now + 300, now)
            .await
        {
            Ok(recorded) => {
                assert_eq!(recorded, Recorded::First);
                eprintln!("service back at attempt {attempt}");
                break;
            }
            Err(error) => assert!(Instant::now() < deadline, "no recovery: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Recovered for good, not by chance.
    for i in 0..10 {
        let result = store
            .record(&key(&format!("steady-{i}")), now + 300, now)
            .await;
        assert_eq!(result, Ok(Recorded::First));
    }
}

#[tokio::test]
async fn passwords_stay_out_of_errors_and_descriptions() {
    let Some(redis) = RedisServer::start_with_password(Some("s3cret-pw")) else {
        // No redis-server binary: prints the skip, or fails when Redis is required.
        let _ = own_redis_or_skip("passwords_stay_out_of_errors_and_descriptions");
        return;
    };
    let right = redis.url();
    let good = store(&right);
    good.ping().await.unwrap();
    assert!(!good.describe().contains("s3cret-pw"));
    assert!(
        good.describe()
            .contains(&format!("127.0.0.1:{}", redis.port()))
    );

    let wrong = store(&right.replace("s3cret-pw", "wrong-pw"));
    let error = wrong.ping().await.unwrap_err();
    let text = error.to_string();
    assert!(
        !text.contains("wrong-pw") && !text.contains("s3cret-pw"),
        "{text}"
    );
    assert!(text.contains("redacted"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_over_redis_accepts_fifty_concurrent_presentations_once() {
    let Some(redis) = TestRedis::get("the_kit_over_redis") else {
        return;
    };
    let issuer = ci_fixtures::MockIssuer::start().await;
    // Two apps ("replicas") over the same Redis.
    let apps: Vec<_> = (0..2)
        .map(|_| {
            guarded(
                "single_use = true\n",
                Deployment::in_environment("preview"),
                Some(store(&redis.url())),
            )
            .router_for(&issuer)
            .expect("app builds")
        })
        .collect();
    // A jti of its own, so the shared Redis has never seen it.
    let token = issuer
        .token(AUDIENCE)
        .claim("jti", ci_fixtures::token::uuid())
        .build();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (app, token, barrier) = (apps[i % 2].clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                post_echo(&app, Some(&token)).await.status.as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}
