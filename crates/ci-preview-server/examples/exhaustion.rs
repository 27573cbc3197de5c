//! Measures a valid call under both connection-exhaustion attacks at the server's default limits
//! (512 connections, 64 per peer): 520 sockets holding half a request head (reopened ~50 a
//! second), then 520 sockets that pipeline requests and stop reading. The attackers spread over
//! ten loopback addresses so the per-peer cap does not stop them first and the global cap is
//! what is tested. A measurement, not a test: it prints figures and asserts nothing.
//!
//! ```sh
//! cargo build --release -p ci-preview-server --bins --examples
//! target/release/examples/exhaustion
//! ```

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use ci_fixtures::{MockIssuer, ServerProcess};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpSocket, TcpStream},
    process::Command,
};

const NAME: &str = "flags/encrypt-override";
const AUDIENCE: &str = "https://preview.test/api/~/ci/flags/encrypt-override";
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
const ATTACKERS: usize = 520;
const CALLS: usize = 20;

#[tokio::main]
async fn main() {
    let binary = server_binary();
    let issuer = MockIssuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ci-policy.toml");
    std::fs::write(&policy, issuer.policy_toml(NAME, AUDIENCE)).unwrap();
    let mut command = Command::new(&binary);
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("CI_PREVIEW_ENV", "preview")
        .env("FLAGS_SECRET", SECRET)
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy);
    let server = ServerProcess::start(command).await.expect("server starts");
    let addr = server.url().trim_start_matches("http://").to_owned();
    println!("server: {} (default limits)", binary.display());

    report("no attack", &valid_calls(&issuer, &addr).await, &server);

    // Attack 1: half heads on every slot, and ~50 more a second while the calls run.
    let mut held = Vec::new();
    for i in 0..ATTACKERS {
        if let Some(stream) = half_head(&addr, i).await {
            held.push(stream);
        }
    }
    let reopen = tokio::spawn({
        let addr = addr.clone();
        async move {
            let mut more = Vec::new();
            for i in 0.. {
                if let Some(stream) = half_head(&addr, i).await {
                    more.push(stream);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(more);
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = valid_calls(&issuer, &addr).await;
    reopen.abort();
    report(
        &format!("{} half heads + ~50 new/s", held.len()),
        &calls,
        &server,
    );
    drop(held);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Attack 2: pipeline 2,000 requests each, never read an answer.
    let mut stuck = Vec::new();
    for i in 0..ATTACKERS {
        if let Some(stream) = pipeline(&addr, i).await {
            stuck.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = valid_calls(&issuer, &addr).await;
    report(
        &format!("{} stalled pipelines", stuck.len()),
        &calls,
        &server,
    );
    tokio::time::sleep(Duration::from_secs(15)).await;
    println!(
        "15 s later: {} sockets open in the server (the attackers' were reset after the 10 s \
         write timeout)",
        open_sockets(&server)
    );
    drop(stuck);
}

fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("ci-preview-server"))
        .unwrap();
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --release -p ci-preview-server --bins)",
        binary.display()
    );
    binary
}

/// A connection from 127.0.0.(1 + i % 10).
async fn connect(addr: &str, i: usize) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    let local = format!("127.0.0.{}:0", 1 + i % 10);
    socket.bind(local.parse().ok()?).ok()?;
    socket.connect(addr.parse().ok()?).await.ok()
}

async fn half_head(addr: &str, i: usize) -> Option<TcpStream> {
    let mut stream = connect(addr, i).await?;
    let head = b"POST /api/~/ci/flags/encrypt-override HTTP/1.1\r\nhost: x\r\nx-pad: aaaa";
    stream.write_all(head).await.ok()?;
    Some(stream)
}

async fn pipeline(addr: &str, i: usize) -> Option<TcpStream> {
    let stream = connect(addr, i).await?;
    let (read, mut write) = stream.into_split();
    let burst = b"GET /api/~/ci/health HTTP/1.1\r\nhost: x\r\n\r\n".repeat(2000);
    let _ = tokio::time::timeout(Duration::from_millis(200), write.write_all(&burst)).await;
    read.reunite(write).ok()
}

/// Latencies of the calls answered 200 (`None` for the others).
async fn valid_calls(issuer: &MockIssuer, addr: &str) -> Vec<Option<Duration>> {
    let mut results = Vec::new();
    for _ in 0..CALLS {
        let started = Instant::now();
        let answer = reqwest::Client::new()
            .post(format!("http://{addr}/api/~/ci/{NAME}"))
            .header("x-github-oidc-token", issuer.token(AUDIENCE).build())
            .header("content-type", "application/json")
            .body(r#"{"flags":{"a":true}}"#)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let ok = answer.is_ok_and(|r| r.status() == 200);
        results.push(ok.then(|| started.elapsed()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    results
}

fn report(label: &str, calls: &[Option<Duration>], server: &ServerProcess) {
    let mut answered: Vec<Duration> = calls.iter().flatten().copied().collect();
    answered.sort();
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!(
        "{label}: {}/{} valid calls answered 200, median {:.1} ms, max {:.1} ms; server RSS {} KiB",
        answered.len(),
        calls.len(),
        ms(answered.get(answered.len() / 2)),
        ms(answered.last()),
        rss_kib(server)
    );
}

fn rss_kib(server: &ServerProcess) -> u64 {
    let pid = server.pid().unwrap();
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_sockets(server: &ServerProcess) -> usize {
    let pid = server.pid().unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}
