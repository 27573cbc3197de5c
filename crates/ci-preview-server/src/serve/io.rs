//! The socket and the request body as the serving loop wraps them: the socket notes when bytes
//! last moved (the idle watch and eviction read it), fails a write that makes no progress for
//! the write timeout, and is reset instead of closed when the loop gave up on it; the body fails
//! once the body-read timeout has passed.
//!
//! Why a write timeout: a client that pipelines requests and then stops reading leaves hyper
//! waiting on a write that never completes, with no timer of hyper's running. Before this, such
//! sockets stayed open indefinitely with their answers stuck in the kernel's send queue.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;

use super::admission::Slot;
use http_body::Frame;
use hyper::body::Incoming;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Sleep,
};

/// What the serving loop and a connection's socket share.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    /// Milliseconds since `started` at which a byte last moved either way.
    last: AtomicU64,
    /// Set when the connection is dropped on purpose (evicted, stalled, past its closing
    /// deadline): the socket is reset rather than closed, so the kernel drops its unsent answers
    /// at once instead of keeping them for a peer that does not read.
    abort: AtomicBool,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
            abort: AtomicBool::new(false),
        }
    }

    pub(super) fn started(&self) -> Instant {
        self.started
    }

    /// When a byte last moved (the connection's start if none has).
    pub(super) fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    pub(super) fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    pub(super) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        let millis = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(millis, Ordering::Relaxed);
    }
}

/// The socket, noting progress; a write pending for `write_timeout` fails with `TimedOut`.
pub(super) struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    write_timeout: Duration,
    /// Armed when a write is first refused for a full send buffer; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Tracked {
    pub(super) fn new(
        inner: TcpStream,
        activity: Arc<Activity>,
        write_timeout: Duration,
    ) -> Tracked {
        Tracked {
            inner,
            activity,
            write_timeout,
            stalled: None,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.activity.aborted() {
            // SO_LINGER 0: close sends a reset and frees the send queue now.
            let _ = self.inner.set_zero_linger();
        }
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
            self.activity.touch();
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
        match poll {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.activity.touch();
                self.stalled = None;
            }
            Poll::Pending => {
                let timeout = self.write_timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_ready() {
                    self.activity.abort();
                    tracing::info!(
                        write_timeout_secs = timeout.as_secs(),
                        "connection reset: the client stopped reading its answers"
                    );
                    return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                }
            }
            Poll::Ready(_) => {}
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
pub(super) struct TimeoutBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl TimeoutBody {
    pub(super) fn new(inner: Incoming, timeout: Duration) -> TimeoutBody {
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

/// Marks a connection as inside a handler (never evicted) until dropped.
pub(super) struct Busy(Arc<Slot>);

impl Busy {
    pub(super) fn enter(slot: Arc<Slot>) -> Busy {
        slot.busy.fetch_add(1, Ordering::Relaxed);
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Completes once no byte has moved for `idle`.
pub(super) async fn idle_for(idle: Duration, activity: &Activity) {
    loop {
        let deadline = activity.last() + idle;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}
