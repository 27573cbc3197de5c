//! `ci-preview wait`: the commit check against stale aliases, and what a timeout says it saw.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn a_stale_preview_that_turns_fresh() {
    let preview = Preview::start(HealthMode::Serving(OLD_SHA.into())).await;
    preview.set_health_after(
        Duration::from_millis(2500),
        HealthMode::Serving(HEAD_SHA.into()),
    );
    let started = Instant::now();
    let run = Client::new(&[
        "wait",
        "--url",
        &preview.url,
        "--sha",
        HEAD_SHA,
        "--timeout",
        "30s",
    ])
    .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
    .in_actions()
    .run()
    .await;
    run.assert_success();
    assert!(started.elapsed() >= Duration::from_millis(2500));
    assert_eq!(run.stdout, format!("{}\n", preview.url));
    assert!(
        run.stderr
            .contains("serving ffffeeeedddd, not 0a1b2c3d4e5f yet: a stale alias"),
        "{}",
        run.stderr
    );
    run.assert_stderr_has(&["ready:"]);
    let state = preview.state();
    assert!(
        state.health_bypass.len() >= 3,
        "polled about every second or two"
    );
    assert!(
        state
            .health_bypass
            .iter()
            .all(|b| b.as_deref() == Some(BYPASS)),
        "bypass header on every probe"
    );
    drop(state);
    run.assert_never(BYPASS);
}

#[tokio::test]
async fn the_event_supplies_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let preview = Preview::start(HealthMode::Serving(OLD_SHA.into())).await;
    let run = Client::new(&["wait", "--url", &preview.url, "--timeout", "2s"])
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .run()
        .await;
    run.assert_exit(1, &["stale alias"]);
}

#[tokio::test]
async fn timeouts_explain_what_was_last_seen() {
    let cases = [
        (
            HealthMode::Status(401),
            true,
            "the bypass secret was rejected: set DEPLOYMENT_PROTECTION_BYPASS",
        ),
        (
            HealthMode::Status(401),
            false,
            "the deployment is protected: add `permissions: id-token: write`",
        ),
        (HealthMode::Status(404), true, "no CI routes here"),
        (HealthMode::NotFoundVercel, true, "DEPLOYMENT_NOT_FOUND"),
        (HealthMode::Status(502), true, "HTTP 502"),
    ];
    for (mode, with_bypass, expected) in cases {
        let preview = Preview::start(mode).await;
        let mut client = Client::new(&[
            "wait",
            "--url",
            &preview.url,
            "--sha",
            HEAD_SHA,
            "--timeout",
            "1s",
        ])
        .in_actions();
        if with_bypass {
            client = client.env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS);
        }
        let run = client.run().await;
        run.assert_exit(1, &[]);
        let error = run
            .stderr
            .lines()
            .find(|l| l.starts_with("::error"))
            .expect("an ::error:: annotation");
        assert!(error.contains("was not ready after"), "{error}");
        assert!(error.contains(expected), "{error} should say {expected}");
        run.assert_never(BYPASS);
    }
}

#[tokio::test]
async fn connection_refused_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let run = Client::new(&["wait", "--url", &url, "--timeout", "1s"])
        .run()
        .await;
    run.assert_exit(1, &["last saw connection refused"]);
}

#[tokio::test]
async fn without_a_commit_any_healthy_answer_counts() {
    let preview = Preview::start(HealthMode::Serving(OLD_SHA.into())).await;
    let run = Client::new(&["wait", "--timeout", "5s"])
        .env("PREVIEW_URL", &preview.url)
        .run()
        .await;
    run.assert_exit(0, &["no commit to compare"]);
}

#[tokio::test]
async fn urls_are_checked_before_anything_is_sent() {
    let run = Client::new(&["wait"]).run().await;
    run.assert_exit(2, &["PREVIEW_URL is not set"]);
    let run = Client::new(&["wait", "--url", "http://preview.example.com"])
        .env("DEPLOYMENT_PROTECTION_BYPASS", BYPASS)
        .run()
        .await;
    run.assert_exit(2, &["refusing plain http"]);
    let run = Client::new(&["wait", "--url", "x.vercel.app", "--timeout", "soon"])
        .run()
        .await;
    run.assert_exit(2, &[]);
}
