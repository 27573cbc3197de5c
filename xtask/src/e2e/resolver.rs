//! How the Rust processes (the client, the function's own requests to its deployment) reach the
//! preview's hostname without DNS: an HTTP `CONNECT` proxy on loopback, named by `HTTPS_PROXY`,
//! that opens a tunnel to the edge for the preview's `host:port` and for nothing else.
//!
//! The tunnel carries TLS end to end, so the client still checks the edge's certificate for the
//! hostname (SNI and name checks as against a real preview); the proxy only stands in for DNS.
//! Every other destination is refused and counted, so the run also shows the client sends nothing
//! anywhere but the preview.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::flags::{Result, failed};

/// The longest request head the proxy reads.
const MAX_HEAD: usize = 8 * 1024;

pub(super) struct Resolver {
    url: String,
    refused: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Resolver {
    /// Tunnels `CONNECT {host}:{port}` to `127.0.0.1:{port}`; refuses everything else.
    pub(super) async fn start(host: &str, port: u16) -> Result<Resolver> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| failed(format!("resolver: cannot bind 127.0.0.1:0: {e}")))?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| failed(e.to_string()))?
        );
        let refused = Arc::new(AtomicU64::new(0));
        let target = format!("{}:{port}", host.to_ascii_lowercase());
        let counter = refused.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let target = target.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    if tunnel(stream, &target, port).await == Outcome::Refused {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Ok(Resolver { url, refused, task })
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// How many tunnels to somewhere other than the preview were asked for.
    pub(super) fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(PartialEq, Eq)]
enum Outcome {
    Tunnelled,
    Refused,
    Broken,
}

async fn tunnel(mut client: TcpStream, target: &str, port: u16) -> Outcome {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return Outcome::Broken,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            return Outcome::Broken;
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.lines().next().unwrap_or_default().split(' ');
    let (method, authority) = (words.next(), words.next().unwrap_or_default());
    if method != Some("CONNECT") || !authority.eq_ignore_ascii_case(target) {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await;
        return Outcome::Refused;
    }
    let Ok(mut edge) = TcpStream::connect(("127.0.0.1", port)).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return Outcome::Broken;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return Outcome::Broken;
    }
    // A client sends nothing after the head until it has the 200, so nothing read is lost.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut edge).await;
    Outcome::Tunnelled
}
