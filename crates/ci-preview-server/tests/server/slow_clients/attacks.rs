//! Connection exhaustion, at a scale a test affords (a cap of 8 instead of 512): every slot held
//! by half-sent heads, or by clients that pipeline requests and then stop reading. Before the
//! fix both kept a valid caller out (refused at the cap), and the second kind stayed open for
//! ever (no deadline after graceful shutdown, no write timeout). New settings are passed as
//! environment variables, which an older server ignores, so these tests run against it unchanged
//! and fail on what they check. The figures at the default cap come from
//! `cargo run --release -p ci-preview-server --example exhaustion`.

use std::time::{Duration, Instant};

use ci_fixtures::MockIssuer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use super::{closed_within, half_request, start, start_with};

const HEALTH: &[u8] = b"GET /api/~/ci/health HTTP/1.1\r\nhost: x\r\n\r\n";

/// A client that sends `requests` pipelined health requests and never reads an answer. Its
/// receive buffer is kept small so the server's answers back up after a few dozen.
async fn pipeline_and_stop_reading(addr: &str, requests: usize) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let (read, mut write) = stream.into_split();
    let burst = HEALTH.repeat(requests);
    // The server stops reading once its answers back up: do not wait for the whole burst.
    let _ = tokio::time::timeout(Duration::from_secs(2), write.write_all(&burst)).await;
    read.reunite(write).unwrap()
}

/// Polls `condition` every 100 ms until it holds or `wait` passes.
async fn eventually(wait: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    condition()
}

#[tokio::test]
async fn half_heads_on_every_slot_do_not_keep_a_valid_caller_out() {
    let issuer = MockIssuer::start().await;
    let server = start(
        &issuer,
        &["--max-connections", "8", "--header-read-timeout", "60"],
    )
    .await;
    let mut held = Vec::new();
    // More than the cap, and again after the valid call: the attacker keeps reopening.
    for round in 0..2 {
        for _ in 0..12 {
            let mut stream = TcpStream::connect(&server.addr).await.unwrap();
            let _ = stream.write_all(&half_request(10)).await;
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answered = server.try_valid_call(&issuer).await;
        assert!(
            matches!(answered, Ok(200)),
            "round {round}: the valid call got {answered:?} while half heads held every slot"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = server.process.logs();
    assert!(
        logs.contains("longest-silent connection was reset"),
        "{logs}"
    );
    // The cap holds: the server never has more than 8 client sockets open.
    assert!(server.open_sockets() <= 8 + 4, "{}", server.open_sockets());
}

#[tokio::test]
async fn clients_that_pipeline_and_stop_reading_are_reset_and_do_not_keep_a_valid_caller_out() {
    let issuer = MockIssuer::start().await;
    let server = start_with(
        &issuer,
        &["--max-connections", "8"],
        &[
            ("CI_PREVIEW_WRITE_TIMEOUT", "2"),
            ("CI_PREVIEW_MAX_REQUESTS_PER_CONNECTION", "100000"),
        ],
    )
    .await;
    assert_eq!(server.valid_call(&issuer).await, 200);
    let baseline = server.open_sockets();
    let mut stuck = Vec::new();
    for _ in 0..8 {
        stuck.push(pipeline_and_stop_reading(&server.addr, 2000).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answered = server.try_valid_call(&issuer).await;
    assert!(
        matches!(answered, Ok(200)),
        "the valid call got {answered:?} while stalled pipelines held every slot"
    );
    // Before: still ESTABLISHED after 100 s. Now: reset after the 2 s write timeout.
    let reset = eventually(Duration::from_secs(8), || server.open_sockets() <= baseline).await;
    assert!(
        reset,
        "stalled pipelines still open: {} sockets, {baseline} before",
        server.open_sockets()
    );
    assert!(
        server
            .process
            .logs()
            .contains("stopped reading its answers")
    );
    drop(stuck);
}

#[tokio::test]
async fn a_connection_asked_to_close_is_reset_after_the_closing_grace() {
    let issuer = MockIssuer::start().await;
    // The write timeout is out of the way: only the deadline after graceful shutdown can end it.
    let server = start_with(
        &issuer,
        &["--idle-timeout", "1"],
        &[
            ("CI_PREVIEW_WRITE_TIMEOUT", "600"),
            ("CI_PREVIEW_MAX_REQUESTS_PER_CONNECTION", "100000"),
        ],
    )
    .await;
    let baseline = server.open_sockets();
    let stuck = pipeline_and_stop_reading(&server.addr, 2000).await;
    let accepted = eventually(Duration::from_secs(2), || server.open_sockets() > baseline).await;
    assert!(accepted, "the stalled connection was never accepted");
    let stalled_at = Instant::now();
    // Idle after a second, asked to close, reset 10 s (the closing grace) later.
    let reset = eventually(Duration::from_secs(20), || {
        server.open_sockets() <= baseline
    })
    .await;
    assert!(reset, "a stalled connection outlived the closing grace");
    // Not by the idle close alone: hyper waits for the answer in flight, and only the grace ends it.
    assert!(
        stalled_at.elapsed() >= Duration::from_secs(5),
        "{:?}",
        stalled_at.elapsed()
    );
    drop(stuck);
}

#[tokio::test]
async fn a_connection_serves_at_most_the_request_limit_then_closes() {
    let issuer = MockIssuer::start().await;
    let server = start_with(
        &issuer,
        &[],
        &[("CI_PREVIEW_MAX_REQUESTS_PER_CONNECTION", "5")],
    )
    .await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    stream.write_all(&HEALTH.repeat(8)).await.unwrap();
    let mut answers = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answers));
    assert!(
        read.await.is_ok(),
        "the connection stayed open past its limit"
    );
    let text = String::from_utf8_lossy(&answers);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 5, "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"));
}

#[tokio::test]
async fn one_peer_holds_at_most_its_own_share() {
    let issuer = MockIssuer::start().await;
    let server = start(
        &issuer,
        &[
            "--max-connections-per-peer",
            "4",
            "--header-read-timeout",
            "60",
        ],
    )
    .await;
    let baseline = server.open_sockets();
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let _ = stream.write_all(&half_request(10)).await;
        held.push(stream);
    }
    // Another peer (all of 127/8 is loopback) is counted on its own.
    let other = TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = other.connect(server.addr.parse().unwrap()).await.unwrap();
    other.write_all(&half_request(10)).await.unwrap();
    let settled = eventually(Duration::from_secs(5), || {
        server.open_sockets() == baseline + 5
    })
    .await;
    assert!(
        settled,
        "{} sockets open, expected {baseline} + 4 from one peer + 1 from the other",
        server.open_sockets()
    );
    // The other peer's connection is still there; the first peer's oldest were reset.
    assert!(!closed_within(&mut other, Duration::from_millis(300)).await);
    assert!(closed_within(&mut held[0], Duration::from_secs(2)).await);
    assert_eq!(server.valid_call(&issuer).await, 200);
}
