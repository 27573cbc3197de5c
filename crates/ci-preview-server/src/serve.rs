//! The serving loop: accepts TCP connections and runs each through hyper's HTTP/1 connection with
//! the limits a public endpoint needs against slow and idle clients.
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
//! - a cap on concurrent connections ([`ServeArgs::max_connections`], a semaphore): one over it
//!   is closed at once and logged, so the process never runs out of descriptors for the ones it
//!   serves. Accept errors are logged too (and backed off), never silently retried.
//!
//! Graceful shutdown: on the signal the listener stops accepting, every open connection finishes
//! its request in flight and closes, and the loop returns once all have (the caller bounds that
//! wait with its grace period).

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{Router, body::Body, extract::Request};
use bytes::Bytes;
use http_body::Frame;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    time::Sleep,
};
use tower::ServiceExt as _;

/// hyper's read buffer per connection: the longest token (`ci_oidc`'s 16 KiB cap) plus 8 KiB for
/// the request line and the other headers. A request whose head does not fit is refused (431).
pub(crate) const MAX_BUF_SIZE: usize = 16 * 1024 + 8 * 1024;

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

    /// Most connections open at once; one more is closed at once (and logged). Keep it below
    /// the process's open-file limit (`ulimit -n`) minus room for outbound connections.
    #[arg(long, env = "CI_PREVIEW_MAX_CONNECTIONS", value_name = "N",
          default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            header_read_timeout: 10,
            body_read_timeout: 10,
            idle_timeout: 30,
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes and every open connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeArgs,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = clamp_to_open_files(limits.max_connections);
    let permits = Arc::new(Semaphore::new(max_connections as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout))
        .max_buf_size(MAX_BUF_SIZE)
        .keep_alive(true);
    let body_timeout = Duration::from_secs(limits.body_read_timeout);
    let idle = Duration::from_secs(limits.idle_timeout);
    let mut dropped = Throttled::new();
    let mut failed = Throttled::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    if let Some(count) = failed.tick() {
                        tracing::error!(%error, count, "accept failed; retrying shortly");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            drop(stream);
            if let Some(count) = dropped.tick() {
                tracing::warn!(
                    max_connections,
                    count,
                    "connection closed: the concurrent connection limit is reached"
                );
            }
            continue;
        };
        // Small JSON answers: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let connection = connection(
            builder.clone(),
            stream,
            app.clone(),
            body_timeout,
            idle,
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends: all of them back means all are closed.
    let _ = permits.acquire_many(max_connections).await;
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

/// One connection: hyper drives it; the idle watch and the shutdown signal ask it to close after
/// the request in flight.
async fn connection(
    builder: http1::Builder,
    stream: TcpStream,
    app: Router,
    body_timeout: Duration,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked {
        inner: stream,
        started,
        activity: Arc::clone(&activity),
    });
    let service = service_fn(move |request: Request<Incoming>| {
        let request = request.map(|body| Body::new(TimeoutBody::new(body, body_timeout)));
        app.clone().oneshot(request)
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = idle_for(idle, started, &activity), if !closing => {
                tracing::debug!(idle_secs = idle.as_secs(), "idle connection closed");
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = stop.wait_for(|stopping| *stopping), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Completes once no byte has moved for `idle`.
async fn idle_for(idle: Duration, started: Instant, activity: &AtomicU64) {
    loop {
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        let deadline = started + last + idle;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The socket, noting when bytes last moved (milliseconds since the connection started).
struct Tracked {
    inner: TcpStream,
    started: Instant,
    activity: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let millis = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(millis, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails once `timeout` has passed since the headers were read, so a client
/// trickling its body cannot hold the handler (and the connection) open.
struct TimeoutBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl TimeoutBody {
    fn new(inner: Incoming, timeout: Duration) -> TimeoutBody {
        TimeoutBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

/// The error a timed-out body read ends with (the body extractor answers 400 and the
/// connection closes).
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within the body-read timeout")]
struct BodyTimeout;

impl http_body::Body for TimeoutBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            tracing::info!("request body too slow: closed after the body-read timeout");
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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
