//! Single-use tokens across server PROCESSES sharing a real Redis (`CI_PREVIEW_REDIS_URL`): a
//! token is accepted once between two servers, 50 concurrent presentations give one 200, Redis
//! stopped mid-run gives 503 with `Retry-After` and service returns when it restarts, an
//! unreachable or malformed Redis URL stops start-up, the URL's password never reaches a log, and
//! `rediss://` works with a private CA file.
//! Also `bind_deployment` through the binary's environment. Redis comes from
//! `CI_PREVIEW_TEST_REDIS_URL` or is started here; see `ci_fixtures::redis` for skipping.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::replay_support::*;
use ci_fixtures::{
    MockIssuer,
    redis::{RedisServer, TestRedis, own_redis_or_skip},
};

#[tokio::test]
async fn two_servers_sharing_redis_accept_a_token_once_between_them() {
    let Some(redis) = TestRedis::get("two_servers_sharing_redis") else {
        return;
    };
    let issuer = MockIssuer::start().await;
    let aud = audience("two-servers");
    let policy = policy(&issuer, &aud, "single_use = true\n");
    let env = [("CI_PREVIEW_REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, b) = (
        start_ready(&policy, &env).await,
        start_ready(&policy, &env).await,
    );
    let client = reqwest::Client::new();

    for (first, second) in [(&a, &b), (&b, &a)] {
        let token = issuer.token(&aud).build();
        let answer = first.post(&client, &token).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        for server in [second, first, second] {
            let again = server.post(&client, &token).await;
            assert_eq!((again.status, again.body.as_str()), (401, UNAUTHORIZED));
        }
    }
    let needle = "reason=\"replay\"";
    let (a_logs, b_logs) = (a.logs_with(needle, 3).await, b.logs_with(needle, 3).await);
    let logs = format!("{a_logs}{b_logs}");
    assert_eq!(logs.matches(needle).count(), 6, "{logs}");
    assert!(logs.contains("replay store reachable"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_presentations_across_two_servers_give_one_200() {
    let Some(redis) = TestRedis::get("fifty_concurrent_presentations") else {
        return;
    };
    let issuer = MockIssuer::start().await;
    let aud = audience("fifty");
    let policy = policy(&issuer, &aud, "single_use = true\n");
    let url = redis.url();
    let env = [("CI_PREVIEW_REDIS_URL", url.as_str())];
    let servers = Arc::new([
        start_ready(&policy, &env).await,
        start_ready(&policy, &env).await,
    ]);
    let client = reqwest::Client::new();
    // Warm each server's connection pool so the 50 arrive together, not behind TCP handshakes.
    for server in servers.iter() {
        let warm = server.post(&client, &issuer.token(&aud).build()).await;
        assert_eq!(warm.status, 200, "{}", warm.body);
    }

    let token = issuer.token(&aud).build();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (servers, client, token, barrier) = (
                servers.clone(),
                client.clone(),
                token.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                servers[i % 2].post(&client, &token).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status != 200 {
            assert_eq!((answer.status, answer.body.as_str()), (401, UNAUTHORIZED));
        }
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn redis_stopped_gives_503_and_restarted_gives_service_back() {
    // A Redis of this test's own: stopping the shared one would break the other tests.
    let Some(mut redis) = own_redis_or_skip("redis_stopped_gives_503") else {
        return;
    };
    let issuer = MockIssuer::start().await;
    let aud = audience("outage");
    let policy = policy(&issuer, &aud, "single_use = true\n");
    let url = redis.url();
    let server = start_ready(&policy, &[("CI_PREVIEW_REDIS_URL", url.as_str())]).await;
    let client = reqwest::Client::new();
    assert_eq!(
        server
            .post(&client, &issuer.token(&aud).build())
            .await
            .status,
        200
    );

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let answer = server.post(&client, &issuer.token(&aud).build()).await;
        assert_eq!((answer.status, answer.body.as_str()), (503, UNAVAILABLE));
        assert_eq!(answer.retry_after.as_deref(), Some("5"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let logs = server.logs_with("replay_store_unavailable", 3).await;
    assert_eq!(
        logs.matches("replay_store_unavailable").count(),
        3,
        "{logs}"
    );

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut attempts = 0;
    loop {
        attempts += 1;
        // As the client does: a fresh token for every attempt.
        let answer = server.post(&client, &issuer.token(&aud).build()).await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert!(
            Instant::now() < deadline,
            "no service {attempts} attempts after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("service back after {attempts} attempt(s)");
    // And single use holds again.
    let token = issuer.token(&aud).build();
    assert_eq!(server.post(&client, &token).await.status, 200);
    assert_eq!(server.post(&client, &token).await.status, 401);
}

#[tokio::test]
async fn start_up_refuses_an_unreachable_or_malformed_redis_without_showing_the_password() {
    let issuer = MockIssuer::start().await;
    let aud = audience("start-up");
    let single_use = policy(&issuer, &aud, "single_use = true\n");
    // Nothing listens on port 1 of loopback.
    let unreachable = "redis://:hunter2-pw@127.0.0.1:1/";
    let (code, logs) = start(&single_use, &[("CI_PREVIEW_REDIS_URL", unreachable)])
        .await
        .err()
        .expect("no start without the replay store");
    assert_eq!(code, 1, "{logs}");
    assert!(logs.contains("cannot reach the replay store"), "{logs}");
    assert!(logs.contains("redis://:redacted@127.0.0.1:1/"), "{logs}");
    assert!(!logs.contains("hunter2-pw"), "{logs}");

    let (code, logs) = start(
        &single_use,
        &[("CI_PREVIEW_REDIS_URL", "http://u:hunter2-pw@h/")],
    )
    .await
    .err()
    .expect("no start with a malformed URL");
    assert_eq!(code, 2, "{logs}");
    assert!(logs.contains("CI_PREVIEW_REDIS_URL"), "{logs}");
    assert!(!logs.contains("hunter2-pw"), "{logs}");

    // Without a single_use endpoint the URL is not used, so an unreachable one does not matter.
    let plain = policy(&issuer, &aud, "");
    let server = start_ready(&plain, &[("CI_PREVIEW_REDIS_URL", unreachable)]).await;
    let logs = server.logs_with("not connecting", 1).await;
    assert!(logs.contains("not connecting"), "{logs}");
    assert!(!logs.contains("hunter2-pw"), "{logs}");
}

#[tokio::test]
async fn a_password_protected_redis_works_and_its_password_is_never_logged() {
    let Some(redis) = RedisServer::start_with_password(Some("pw-9f2e71")) else {
        let _ = own_redis_or_skip("a_password_protected_redis_works");
        return;
    };
    let issuer = MockIssuer::start().await;
    let aud = audience("password");
    let policy = policy(&issuer, &aud, "single_use = true\n");
    let url = redis.url();
    let server = start_ready(&policy, &[("CI_PREVIEW_REDIS_URL", url.as_str())]).await;
    let client = reqwest::Client::new();
    let token = issuer.token(&aud).build();
    assert_eq!(server.post(&client, &token).await.status, 200);
    assert_eq!(server.post(&client, &token).await.status, 401);
    let logs = server.logs_with("reason=\"replay\"", 1).await;
    assert!(logs.contains(":redacted@127.0.0.1"), "{logs}");
    assert!(!logs.contains("pw-9f2e71"), "{logs}");
}

#[tokio::test]
async fn rediss_with_a_private_ca_file() {
    let Some(redis) = RedisServer::start_tls() else {
        let _ = own_redis_or_skip("rediss_with_a_private_ca_file");
        return;
    };
    let issuer = MockIssuer::start().await;
    let aud = audience("tls");
    let policy = policy(&issuer, &aud, "single_use = true\n");
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("redis-ca.pem");
    std::fs::write(&ca_file, redis.ca_pem().unwrap()).unwrap();
    let ca_file = ca_file.to_str().unwrap();

    let env = [
        ("CI_PREVIEW_REDIS_URL", url.as_str()),
        ("CI_PREVIEW_REDIS_CA_FILE", ca_file),
    ];
    let server = start_ready(&policy, &env).await;
    let client = reqwest::Client::new();
    let token = issuer.token(&aud).build();
    assert_eq!(server.post(&client, &token).await.status, 200);
    assert_eq!(server.post(&client, &token).await.status, 401);

    // Without the CA the certificate is not trusted: no start.
    let (code, logs) = start(&policy, &[("CI_PREVIEW_REDIS_URL", url.as_str())])
        .await
        .err()
        .expect("no start with an untrusted Redis certificate");
    assert_eq!(code, 1, "{logs}");
    assert!(logs.contains("UnknownIssuer"), "{logs}");
}

#[tokio::test]
async fn bind_deployment_follows_the_deployment_variables() {
    let issuer = MockIssuer::start().await;
    let aud = audience("binding");
    let policy = policy(&issuer, &aud, "bind_deployment = true\n");
    let client = reqwest::Client::new();
    // The default token is a pull_request run of PR 12 from `feature/preview-smoke`.
    let token = issuer.token(&aud).build();
    // The deployment names its repository too (binding includes it), as Vercel does.
    let this_repo = [
        ("VERCEL_GIT_REPO_OWNER", "octo-org"),
        ("VERCEL_GIT_REPO_SLUG", "octo-repo"),
        ("VERCEL_GIT_REPO_ID", "123456789"),
    ];
    let with_repo = |vars: &[(&'static str, &'static str)]| {
        let mut env = this_repo.to_vec();
        env.extend_from_slice(vars);
        env
    };
    for (env, status) in [
        (with_repo(&[("VERCEL_GIT_PULL_REQUEST_ID", "12")]), 200),
        (with_repo(&[("VERCEL_GIT_PULL_REQUEST_ID", "13")]), 401),
        (
            with_repo(&[
                ("VERCEL_GIT_PULL_REQUEST_ID", ""),
                ("VERCEL_GIT_COMMIT_REF", "feature/preview-smoke"),
            ]),
            200,
        ),
        (with_repo(&[("VERCEL_GIT_COMMIT_REF", "main")]), 401),
        // The same PR number in another repository's preview.
        (
            vec![
                ("VERCEL_GIT_REPO_OWNER", "octo-org"),
                ("VERCEL_GIT_REPO_SLUG", "other-repo"),
                ("VERCEL_GIT_REPO_ID", "555"),
                ("VERCEL_GIT_PULL_REQUEST_ID", "12"),
            ],
            401,
        ),
        // A deployment that cannot say which repository it is: fail closed.
        (vec![("VERCEL_GIT_PULL_REQUEST_ID", "12")], 401),
        (vec![], 401),
    ] {
        let server = start_ready(&policy, &env).await;
        let answer = server.post(&client, &token).await;
        assert_eq!(answer.status, status, "{env:?}: {}", answer.body);
        if status == 401 {
            let logs = server.logs_with("deployment_mismatch", 1).await;
            assert!(logs.contains("deployment_mismatch"), "{logs}");
        }
    }
}
