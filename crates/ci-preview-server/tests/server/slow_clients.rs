//! Slow and idle clients against the real binary (`src/serve.rs`): half-sent requests are closed
//! after the header-read timeout, oversized heads are refused instead of buffered, idle
//! keep-alive connections are closed, and a valid caller is served while many slow connections
//! are held, with memory bounded per connection. The connection-exhaustion attacks (every slot
//! held by half heads, or by clients that pipeline and stop reading) are in `attacks.rs`. The
//! figures (connections held, latency, RSS) are printed with `--nocapture`, not asserted.

mod attacks;

use std::time::Duration;

use ci_fixtures::{MockIssuer, ServerProcess};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    process::Command,
};

const NAME: &str = "flags/encrypt-override";
const AUDIENCE: &str = "https://preview.test/api/~/ci/flags/encrypt-override";
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

struct Server {
    process: ServerProcess,
    addr: String,
    _dir: tempfile::TempDir,
}

async fn start(issuer: &MockIssuer, extra_args: &[&str]) -> Server {
    start_with(issuer, extra_args, &[]).await
}

/// [`start`] with extra environment variables (settings an older server ignores, so a test can
/// run against it unchanged and fail on what it checks rather than on an unknown flag).
async fn start_with(issuer: &MockIssuer, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ci-policy.toml");
    std::fs::write(&policy, issuer.policy_toml(NAME, AUDIENCE)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ci-preview-server"));
    command
        .env_clear()
        .env("RUST_LOG", "info")
        .env("CI_PREVIEW_ENV", "preview")
        .env("FLAGS_SECRET", SECRET)
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy)
        .args(extra_args)
        .envs(env.iter().copied());
    let process = ServerProcess::start(command)
        .await
        .unwrap_or_else(|e| panic!("server not ready: {e:?}"));
    let addr = process.url().trim_start_matches("http://").to_owned();
    Server {
        process,
        addr,
        _dir: dir,
    }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        let pid = self.process.pid().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// A signed call through a fresh connection; the status code.
    async fn valid_call(&self, issuer: &MockIssuer) -> u16 {
        self.try_valid_call(issuer)
            .await
            .expect("the valid call is answered")
    }

    /// [`Server::valid_call`], with the transport error instead of a panic.
    async fn try_valid_call(&self, issuer: &MockIssuer) -> Result<u16, reqwest::Error> {
        let token = issuer.token(AUDIENCE).build();
        let response = reqwest::Client::new()
            .post(format!("http://{}/api/~/ci/{NAME}", self.addr))
            .header(ci_endpoint::TOKEN_HEADER, token)
            .header("content-type", "application/json")
            .body(r#"{"flags":{"a":true}}"#)
            .timeout(Duration::from_secs(20))
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// Sockets the server process has open (its listener included).
    fn open_sockets(&self) -> usize {
        let pid = self.process.pid().unwrap();
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }
}

/// Whether the server closed `stream` (EOF or reset, after an optional error response) within
/// `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(wait, read_all).await.is_ok()
}

/// A request head cut short: the request line and `pad` bytes of one header, no blank line.
fn half_request(pad: usize) -> Vec<u8> {
    let mut head = b"POST /api/~/ci/flags/encrypt-override HTTP/1.1\r\nhost: x\r\nx-pad: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', pad));
    head
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_read_timeout() {
    let issuer = MockIssuer::start().await;
    let server = start(&issuer, &["--header-read-timeout", "1"]).await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    stream.write_all(&half_request(100)).await.unwrap();
    // Without a timer (axum::serve) the socket stayed open indefinitely.
    assert!(
        closed_within(&mut stream, Duration::from_secs(15)).await,
        "a half-sent request is still open"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let issuer = MockIssuer::start().await;
    let server = start(
        &issuer,
        &["--idle-timeout", "1", "--header-read-timeout", "30"],
    )
    .await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/~/ci/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    // Kept alive, then idle: closed well before the 30 s header timeout would.
    assert!(closed_within(&mut stream, Duration::from_secs(15)).await);
}

#[tokio::test]
async fn a_valid_caller_is_served_while_slow_connections_are_held_and_memory_stays_bounded() {
    const HELD: usize = 200;
    let issuer = MockIssuer::start().await;
    let server = start(&issuer, &["--header-read-timeout", "60"]).await;
    assert_eq!(server.valid_call(&issuer).await, 200);
    let before = server.rss_kib();
    // Each slow client tries to park 100 KiB of unfinished headers; hyper's default buffer
    // (~400 KB) kept it all, the capped buffer refuses the head once it passes the cap.
    // Half of them park a small head and stay open (held until the header-read timeout).
    let mut held = Vec::new();
    for i in 0..2 * HELD {
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let pad = if i % 2 == 0 { 100 * 1024 } else { 1024 };
        let _ = stream.write_all(&half_request(pad)).await;
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    assert_eq!(server.valid_call(&issuer).await, 200);
    let latency = started.elapsed();
    let after = server.rss_kib();
    let grown = after.saturating_sub(before);
    // The figures for the README's measured table (printed, not asserted: speed lives in
    // benchmarks): `cargo test -p ci-preview-server --test server slow_clients:: -- --nocapture`.
    eprintln!(
        "slow clients: {} connections ({HELD} held with a partial head, {HELD} refused past the \
         buffer cap); valid call {:.1} ms under them; RSS {before} KiB -> {after} KiB",
        2 * HELD,
        latency.as_secs_f64() * 1000.0
    );
    let per_connection = grown * 1024 / (2 * HELD) as u64;
    assert!(
        per_connection < 48 * 1024,
        "RSS grew {grown} KiB for {} slow connections ({per_connection} bytes each)",
        2 * HELD
    );
    drop(held);
}
