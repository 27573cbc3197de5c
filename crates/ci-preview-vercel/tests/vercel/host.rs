//! The function binary under the emulated Vercel host (`ci_fixtures::vercel`): the socket, the
//! frames, the internal headers and SIGTERM as `vercel_runtime` 2.4.1 meets them on Vercel.
//! Health, a verified call whose cookie decrypts, the contract's refusals, production's 404,
//! one `end` frame per request (refusals included), concurrency, `/_vercel/ping`, the
//! fail-closed start, the local mode `vercel dev` uses (with the server's header-read timeout),
//! and answers that never wait for a body
//! (the bridge hands the router hyper's streaming body, unread).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ci_fixtures::vercel::{LocalFunction, VercelHost};
use ci_fixtures::{JwksFault, MockIssuer, get_http, post_http};
use serde_json::{Value, json};

const NAME: &str = "flags/encrypt-override";
const AUDIENCE: &str = "https://preview.test/api/~/ci/flags/encrypt-override";
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
const FUNCTION: &str = env!("CARGO_BIN_EXE_ci-preview-vercel");
const COMMIT: &str = "0c4e2a1fd3b54c9e8a7f6d5c4b3a29180f7e6d5c";
const ENDS: Duration = Duration::from_secs(10);

/// The mock issuer and a policy file trusting it, kept for the test's lifetime.
struct Setup {
    issuer: MockIssuer,
    policy: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let issuer = MockIssuer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("ci-policy.toml");
        std::fs::write(&policy, issuer.policy_toml(NAME, AUDIENCE)).unwrap();
        Setup {
            issuer,
            policy,
            _dir: dir,
        }
    }

    /// A Vercel preview deployment's environment (as Vercel sets it, no `CI_PREVIEW_ENV`).
    fn env<'a>(&'a self, vercel_env: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("CI_PREVIEW_POLICY", path(&self.policy)),
            ("VERCEL_ENV", vercel_env),
            ("VERCEL_GIT_COMMIT_SHA", COMMIT),
            ("FLAGS_SECRET", SECRET),
            ("RUST_LOG", "debug"),
        ]
    }

    async fn host(&self, vercel_env: &str) -> VercelHost {
        match VercelHost::start(Path::new(FUNCTION), &self.env(vercel_env)).await {
            Ok(host) => host,
            Err(failure) => panic!("the function did not start: {failure:?}"),
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

#[tokio::test]
async fn preview_serves_health_a_verified_call_and_refusals_with_an_end_frame_each() {
    let setup = Setup::new().await;
    let host = setup.host("preview").await;
    let url = host.url().to_owned();

    let (status, body) = get_http(&format!("{url}/api/~/ci/health")).await;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["environment"], "preview", "{health}");
    assert_eq!(health["commit"], COMMIT, "{health}");
    assert_eq!(health["endpoints"][0]["name"], NAME, "{health}");
    assert_eq!(health["endpoints"][0]["ready"], true, "{health}");

    let token = setup.issuer.token(AUDIENCE).build();
    let (status, body) = post_http(
        &reqwest::Client::new(),
        &endpoint_url(&url),
        Some(&token),
        r#"{"flags":{"viaVercel":true}}"#.to_owned(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let cookie = answer["cookie"].as_str().unwrap();
    let secret = encrypt_override::FlagsSecret::parse(SECRET).unwrap();
    assert_eq!(
        encrypt_override::decrypt(cookie, &secret).unwrap(),
        json!({"viaVercel": true})
    );

    let unauthorized = r#"{"error":"unauthorized"}"#;
    let foreign = setup
        .issuer
        .token("https://elsewhere.test/api/~/ci/flags/encrypt-override")
        .build();
    let refusals = [
        (None, r#"{"flags":{}}"#.to_owned(), 401, unauthorized),
        (
            Some(foreign),
            r#"{"flags":{}}"#.to_owned(),
            401,
            unauthorized,
        ),
        (
            Some(token.clone()),
            "{not json".to_owned(),
            400,
            r#"{"error":"bad_request"}"#,
        ),
        (
            Some(token.clone()),
            format!(r#"{{"flags":{{"pad":"{}"}}}}"#, "y".repeat(70 * 1024)),
            413,
            r#"{"error":"payload_too_large"}"#,
        ),
    ];
    for (token, body, want_status, want_body) in refusals {
        let (status, answer) = post_http(
            &reqwest::Client::new(),
            &endpoint_url(&url),
            token.as_deref(),
            body.clone(),
        )
        .await;
        assert_eq!((status, answer.as_str()), (want_status, want_body));
    }

    assert_eq!(host.forwarded(), 6);
    host.every_request_ended(ENDS).await.unwrap();

    // The runtime answers the host's liveness probe itself: no app, no frame.
    let frames_before = host.frames().len();
    let (status, body) = get_http(&format!("{}/_vercel/ping", host.function_url())).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(host.frames().len(), frames_before, "{:?}", host.frames());

    let output = host.output();
    let status = host.stop().await.unwrap();
    assert!(
        status.success(),
        "SIGTERM must end the function cleanly: {status}\n{output}"
    );
    assert!(!output.contains(SECRET), "the secret reached the logs");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!output.contains(signature), "a token reached the logs");
}

#[tokio::test]
async fn concurrent_requests_each_get_their_answer_and_end_frame() {
    let setup = Setup::new().await;
    let host = setup.host("preview").await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..16 {
        let url = host.url().to_owned();
        let token = setup.issuer.token(AUDIENCE).build();
        calls.spawn(async move {
            let (status, body) = post_http(
                &reqwest::Client::new(),
                &endpoint_url(&url),
                Some(&token),
                format!(r#"{{"flags":{{"n":{i}}}}}"#),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        });
    }
    while let Some(call) = calls.join_next().await {
        call.unwrap();
    }
    assert_eq!(host.forwarded(), 16);
    host.every_request_ended(ENDS).await.unwrap();
    assert!(host.stop().await.unwrap().success());
}

#[tokio::test]
async fn production_answers_404_everywhere_and_still_ends_each_request() {
    let setup = Setup::new().await;
    let host = setup.host("production").await;
    let token = setup.issuer.token(AUDIENCE).build();
    let url = host.url().to_owned();
    for (status, body) in [
        get_http(&format!("{url}/api/~/ci/health")).await,
        post_http(
            &reqwest::Client::new(),
            &endpoint_url(&url),
            Some(&token),
            r#"{"flags":{"a":true}}"#.to_owned(),
        )
        .await,
        get_http(&format!("{url}/api/~/ci/anything/else")).await,
    ] {
        assert_eq!((status, body.as_str()), (404, "Not Found"));
    }
    host.every_request_ended(ENDS).await.unwrap();
    assert_eq!(
        setup.issuer.jwks_requests(),
        0,
        "production fetches no keys"
    );
    assert!(host.stop().await.unwrap().success());
}

#[tokio::test]
async fn unreachable_issuer_keys_exit_non_zero_before_server_started() {
    let setup = Setup::new().await;
    setup.issuer.set_fault(JwksFault::Status(503));
    let failure = VercelHost::start(Path::new(FUNCTION), &setup.env("preview"))
        .await
        .expect_err("a function without the issuer's keys must not start");
    assert_eq!(
        failure.status.and_then(|s| s.code()),
        Some(1),
        "{failure:?}"
    );
    assert!(failure.frames.is_empty(), "{:?}", failure.frames);
    assert!(
        failure.output.contains("fail closed"),
        "the log says why: {}",
        failure.output
    );
}

/// Many instances serve one Vercel deployment, so a token recorded in one instance's memory
/// could be spent again at another ("single use per instance"): under the host, a
/// `single_use` endpoint without `CI_PREVIEW_REDIS_URL` stops start-up naming the variable; run
/// locally (one process) it starts.
#[tokio::test]
async fn single_use_without_a_shared_store_does_not_start_under_the_host() {
    let setup = Setup::new().await;
    let single_use = format!(
        "{}single_use = true\n",
        setup.issuer.policy_toml(NAME, AUDIENCE)
    );
    std::fs::write(&setup.policy, single_use).unwrap();
    let failure = VercelHost::start(Path::new(FUNCTION), &setup.env("preview"))
        .await
        .expect_err("single_use with per-instance memory must not start under Vercel");
    assert_eq!(
        failure.status.and_then(|s| s.code()),
        Some(2),
        "{failure:?}"
    );
    assert!(failure.frames.is_empty(), "{:?}", failure.frames);
    assert!(
        failure.output.contains("CI_PREVIEW_REDIS_URL"),
        "{}",
        failure.output
    );
    let local = LocalFunction::start(Path::new(FUNCTION), &setup.env("development"))
        .await
        .unwrap_or_else(|failure| panic!("{failure:?}"));
    assert!(local.stop().await.unwrap().success());
}

#[tokio::test]
async fn local_mode_without_the_host_socket_prints_dev_server_listening() {
    let setup = Setup::new().await;
    let function = LocalFunction::start(Path::new(FUNCTION), &setup.env("development"))
        .await
        .unwrap_or_else(|failure| panic!("{failure:?}"));
    let (status, body) = get_http(&format!("{}/api/~/ci/health", function.url)).await;
    assert_eq!(status, 200, "{body}");
    let token = setup.issuer.token(AUDIENCE).build();
    let (status, body) = post_http(
        &reqwest::Client::new(),
        &endpoint_url(&function.url),
        Some(&token),
        r#"{"flags":{"local":1}}"#.to_owned(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(function.stop().await.unwrap().success());
}

/// The runtime's own local mode has no timer: a half-sent head held its socket for ever. The
/// function serves local mode with the server's loop and its header-read timeout.
#[tokio::test]
async fn local_mode_closes_a_half_sent_request_after_the_header_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let setup = Setup::new().await;
    let mut env = setup.env("development");
    env.push(("CI_PREVIEW_HEADER_READ_TIMEOUT", "1"));
    let function = LocalFunction::start(Path::new(FUNCTION), &env)
        .await
        .unwrap_or_else(|failure| panic!("{failure:?}"));
    let address = function.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /api/~/ci/health HTTP/1.1\r\nhost: x\r\nx-pad: aaa")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
    assert!(
        closed.is_ok(),
        "a half-sent request is still open after 10 s"
    );
    // The function still serves.
    let (status, body) = get_http(&format!("{}/api/~/ci/health", function.url)).await;
    assert_eq!(status, 200, "{body}");
    assert!(function.stop().await.unwrap().success());
}

/// Sends headers announcing a 1 MB body and only 10 bytes of it, and returns the status line the
/// function answers with while the rest of the body never comes.
async fn answer_to_a_body_that_never_ends(function_url: &str, token: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = function_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let token = token.map_or(String::new(), |t| format!("x-github-oidc-token: {t}\r\n"));
    let head = format!(
        "POST /api/~/ci/{NAME} HTTP/1.1\r\nHost: preview.test\r\ncontent-type: application/json\r\n\
         content-length: 1000000\r\n{token}\r\n{{\"flags\":{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the function waited for a body its answer does not need")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn refusals_and_production_answer_without_reading_the_body() {
    // What the runtime's own `axum` feature would break: it collects the whole body first.
    let setup = Setup::new().await;
    let production = setup.host("production").await;
    assert_eq!(
        answer_to_a_body_that_never_ends(&production.function_url(), None).await,
        "HTTP/1.1 404 Not Found"
    );
    let preview = setup.host("preview").await;
    assert_eq!(
        answer_to_a_body_that_never_ends(&preview.function_url(), None).await,
        "HTTP/1.1 401 Unauthorized"
    );
    let foreign = setup.issuer.token("https://elsewhere.test/x").build();
    assert_eq!(
        answer_to_a_body_that_never_ends(&preview.function_url(), Some(&foreign)).await,
        "HTTP/1.1 401 Unauthorized"
    );
}

/// The endpoint under test at `base`.
fn endpoint_url(base: &str) -> String {
    format!("{base}/api/~/ci/{NAME}")
}
