//! The serving loop: accepts TCP connections and runs each through hyper's HTTP/1 connection with
//! the limits a public endpoint needs against slow, idle and hostile clients.
//!
//! Why not `axum::serve`: it installs no timer, and hyper drops its header-read timeout when no
//! timer is set, so a client sending half a request held a socket (and up to hyper's ~400 KB
//! default buffer) forever; with a few hundred of them the process ran out of descriptors and a
//! valid caller timed out with nothing logged. Here every connection gets:
//!
//! - a header-read timeout ([`ServeArgs::header_read_timeout`]) run by hyper's Tokio timer;
//! - a read buffer capped at [`MAX_BUF_SIZE`]: the 16 KiB token cap plus headroom for the other
//!   headers, instead of hyper's ~400 KB, so memory per held connection stays small;
//! - a keep-alive idle timeout ([`ServeArgs::idle_timeout`]): no bytes either way for that long
//!   and the connection is closed (after the request in flight, if any);
//! - a body-read timeout ([`ServeArgs::body_read_timeout`]) from the end of the headers;
//! - a write-progress timeout ([`ServeArgs::write_timeout`]): an answer the client does not read
//!   for that long resets the connection (a client that pipelines requests and stops reading
//!   held its socket forever before, with its answers stuck in the kernel's send queue), and a
//!   64 KiB send buffer instead of the kernel's autotuned up-to-4 MiB, so that queue stays small;
//! - a maximum age ([`ServeArgs::max_connection_age`]) and request count
//!   ([`ServeArgs::max_requests_per_connection`]), after which it is closed after its answer;
//! - a hard deadline, [`CLOSING_GRACE`], once it has been asked to close (idle, age, shutdown):
//!   hyper's graceful shutdown has none, so a connection stuck mid-request stayed forever;
//! - a cap on concurrent connections ([`ServeArgs::max_connections`]) and per peer
//!   ([`ServeArgs::max_connections_per_peer`]): past a cap the connection that moved no byte for
//!   the longest (and is not in a handler) is evicted to make room, so held sockets cannot keep
//!   a valid caller out (`admission.rs`). Evictions, refusals and accept errors are logged
//!   (throttled), never silent.
//!
//! Graceful shutdown: on the signal the listener stops accepting, every open connection finishes
//! its request in flight and closes (within [`CLOSING_GRACE`]), and the loop returns once all
//! have.

mod admission;
mod io;

use std::{
    future::Future,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use axum::{Router, body::Body, extract::Request, http::HeaderValue};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tower::ServiceExt as _;

use admission::{Admission, Admitted, Eviction, Peer, Slot};
use io::{Busy, TimeoutBody, Tracked, idle_for};

/// hyper's read buffer per connection: the longest token (`ci_oidc`'s 16 KiB cap) plus 8 KiB for
/// the request line and the other headers. A request whose head does not fit is refused (431).
pub(crate) const MAX_BUF_SIZE: usize = 16 * 1024 + 8 * 1024;

/// How long a connection asked to close (idle, too old, shutting down) gets to finish the
/// request in flight before it is reset.
pub(crate) const CLOSING_GRACE: Duration = Duration::from_secs(10);

/// The kernel send buffer per connection (Linux doubles it for its own bookkeeping).
const SEND_BUFFER: usize = 64 * 1024;

/// Pause after a failed `accept` (e.g. out of descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At most one log line per this long for repeated drops or accept errors (with a count), so an
/// attack cannot flood the log.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The serving limits, as flags with their variables (flattened into the server's arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Seconds a client has to send a request's headers (the first request and each following
    /// one on a kept-alive connection); slower connections are closed.
    #[arg(long, env = "CI_PREVIEW_HEADER_READ_TIMEOUT", value_name = "SECONDS",
          default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,

    /// Seconds a client has to send a request's body once its headers are in.
    #[arg(long, env = "CI_PREVIEW_BODY_READ_TIMEOUT", value_name = "SECONDS",
          default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout: u64,

    /// Seconds a connection may stay open with no bytes sent either way before it is closed.
    #[arg(long, env = "CI_PREVIEW_IDLE_TIMEOUT", value_name = "SECONDS",
          default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,

    /// Seconds an answer may wait for the client to read it (no byte written) before the
    /// connection is reset.
    #[arg(long, env = "CI_PREVIEW_WRITE_TIMEOUT", value_name = "SECONDS",
          default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout: u64,

    /// Seconds a connection may live; it is then closed after the request in flight.
    #[arg(long, env = "CI_PREVIEW_MAX_CONNECTION_AGE", value_name = "SECONDS",
          default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connection_age: u64,

    /// Requests one connection may make; the last answer carries `connection: close`.
    #[arg(long, env = "CI_PREVIEW_MAX_REQUESTS_PER_CONNECTION", value_name = "N",
          default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests_per_connection: u32,

    /// Most connections open at once. Past it, the open connection that has moved no byte for
    /// the longest (and is not in a handler) is reset to make room; only when every one is in a
    /// handler is the new one closed. Keep it below the process's open-file limit (`ulimit -n`)
    /// minus room for outbound connections.
    #[arg(long, env = "CI_PREVIEW_MAX_CONNECTIONS", value_name = "N",
          default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most connections open at once from one peer (an IPv4 address, an IPv6 /64), with the same
    /// eviction; 0 = no per-peer limit. Behind a proxy or load balancer every connection comes
    /// from it: raise this or set 0 there.
    #[arg(
        long,
        env = "CI_PREVIEW_MAX_CONNECTIONS_PER_PEER",
        value_name = "N",
        default_value_t = 64
    )]
    pub max_connections_per_peer: u32,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            header_read_timeout: 10,
            body_read_timeout: 10,
            idle_timeout: 30,
            write_timeout: 10,
            max_connection_age: 300,
            max_requests_per_connection: 100,
            max_connections: 512,
            max_connections_per_peer: 64,
        }
    }
}

/// What every connection of one server shares.
#[derive(Clone)]
struct Limits {
    builder: http1::Builder,
    body_timeout: Duration,
    idle: Duration,
    write_timeout: Duration,
    max_age: Duration,
    max_requests: u32,
}

/// Serves `app` on `listener` until `shutdown` completes and every open connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeArgs,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = clamp_to_open_files(limits.max_connections);
    let admission = Arc::new(Admission::new(
        max_connections as usize,
        limits.max_connections_per_peer as usize,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender: the channel closes when the last one ends.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout))
        .max_buf_size(MAX_BUF_SIZE)
        .keep_alive(true);
    let shared = Limits {
        builder,
        body_timeout: Duration::from_secs(limits.body_read_timeout),
        idle: Duration::from_secs(limits.idle_timeout),
        write_timeout: Duration::from_secs(limits.write_timeout),
        max_age: Duration::from_secs(limits.max_connection_age),
        max_requests: limits.max_requests_per_connection,
    };
    let mut refused = Throttled::new();
    let mut evicted_log = Throttled::new();
    let mut failed = Throttled::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if let Some(count) = failed.tick() {
                        tracing::error!(%error, count, "accept failed; retrying shortly");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let (id, slot, evicted) = match admission.admit(Peer::of(peer.ip())) {
            Admitted::Yes { id, slot, evicted } => (id, slot, evicted),
            Admitted::No { per_peer } => {
                drop(stream);
                if let Some(count) = refused.tick() {
                    tracing::warn!(
                        max_connections,
                        max_connections_per_peer = limits.max_connections_per_peer,
                        per_peer,
                        count,
                        "connection closed: the connection limit is reached and every open \
                         connection is in a handler"
                    );
                }
                continue;
            }
        };
        if let Some(eviction) = evicted
            && let Some(count) = evicted_log.tick()
        {
            let per_peer = eviction == Eviction::PerPeer;
            tracing::warn!(
                max_connections,
                max_connections_per_peer = limits.max_connections_per_peer,
                per_peer,
                count,
                "connection limit reached: the longest-silent connection was reset to make room"
            );
        }
        // Small JSON answers: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        // Answers are small; a client that stops reading parks at most this much in the kernel
        // (autotuning grew it to 4 MiB: 520 such clients held ~0.8 GB).
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
        let connection = connection(shared.clone(), stream, app.clone(), slot, stop_rx.clone());
        let admission = Arc::clone(&admission);
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            connection.await;
            admission.remove(id);
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}

/// Descriptors kept free for everything but inbound connections (the listener, logs, the
/// issuer's keys, Redis).
const RESERVED_FILES: u32 = 64;

/// `max_connections`, lowered (and logged) when the process's open-file limit could not hold
/// that many: past it `accept` fails for everyone, the valid caller included.
fn clamp_to_open_files(max_connections: u32) -> u32 {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<u32>().ok()
        });
    match soft_limit {
        Some(limit) if limit.saturating_sub(RESERVED_FILES) < max_connections => {
            let lowered = limit.saturating_sub(RESERVED_FILES).max(1);
            tracing::warn!(
                max_connections,
                open_file_limit = limit,
                lowered,
                "max connections lowered to fit the open-file limit (ulimit -n)"
            );
            lowered
        }
        _ => max_connections,
    }
}

/// One connection: hyper drives it; idleness, age and the shutdown signal ask it to close after
/// the request in flight, and [`CLOSING_GRACE`] later it is reset; an eviction resets it at once.
async fn connection(
    limits: Limits,
    stream: TcpStream,
    app: Router,
    slot: Arc<Slot>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::clone(&slot.activity);
    let started = activity.started();
    let io = TokioIo::new(Tracked::new(
        stream,
        Arc::clone(&activity),
        limits.write_timeout,
    ));
    let (body_timeout, max_requests) = (limits.body_timeout, limits.max_requests);
    let requests = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let in_handler = Arc::clone(&slot);
    let service = service_fn(move |request: Request<Incoming>| {
        let request = request.map(|body| Body::new(TimeoutBody::new(body, body_timeout)));
        let last = requests.fetch_add(1, Ordering::Relaxed) + 1 >= max_requests;
        let busy = Busy::enter(Arc::clone(&in_handler));
        let answer = app.clone().oneshot(request);
        async move {
            let mut response = answer.await?;
            drop(busy);
            if last {
                // hyper closes the connection after an answer that says so.
                response
                    .headers_mut()
                    .insert("connection", HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = limits.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing: Option<tokio::time::Instant> = None;
    let too_old = tokio::time::sleep_until((started + limits.max_age).into());
    tokio::pin!(too_old);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = slot.evict.notified() => {
                tracing::debug!("connection evicted to make room");
                return;
            }
            () = tokio::time::sleep_until(closing.unwrap_or_else(tokio::time::Instant::now)),
                if closing.is_some() => {
                activity.abort();
                tracing::info!(
                    grace_secs = CLOSING_GRACE.as_secs(),
                    "connection reset: still open after the closing grace"
                );
                return;
            }
            () = idle_for(limits.idle, &activity), if closing.is_none() => {
                tracing::debug!(idle_secs = limits.idle.as_secs(), "idle connection closed");
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + CLOSING_GRACE);
            }
            () = &mut too_old, if closing.is_none() => {
                tracing::debug!("connection closed at its maximum age");
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + CLOSING_GRACE);
            }
            _ = stop.wait_for(|stopping| *stopping), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + CLOSING_GRACE);
            }
        }
    }
}

/// Counts events and says when to log: the first one, then at most once per [`LOG_EVERY`],
/// with how many happened since the last line.
struct Throttled {
    last: Option<Instant>,
    count: u64,
}

impl Throttled {
    fn new() -> Throttled {
        Throttled {
            last: None,
            count: 0,
        }
    }

    fn tick(&mut self) -> Option<u64> {
        self.count += 1;
        let due = self.last.is_none_or(|last| last.elapsed() >= LOG_EVERY);
        if !due {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.count))
    }
}
