//! Captures what `tracing` logs during a test, so a test can check that a refusal's reason is
//! logged and that no token, cookie or secret ever is. One writer for every crate's log tests.
//!
//! A capture is a thread-local subscriber, and tests of one binary run on parallel threads. Tracing
//! caches per call site whether anyone listens; a thread without a capture that reaches a call site
//! first can cache "nobody" while another thread's capture is being set up, and that capture then
//! misses the event. So the first capture also installs a global subscriber that listens to
//! everything and keeps nothing ([`Everything`]): no call site is ever cached as unheard, and each
//! event goes to the capture of the thread that logs it.

use std::sync::{Arc, Mutex, Once, PoisonError};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::{DefaultGuard, Interest};
use tracing::{Event, Metadata, Subscriber, span};
use tracing_subscriber::fmt::MakeWriter;

/// The claims the kit's audit line carries, each under the claim's own name (an interface: log
/// drains filter on them). Beside them the line has `endpoint`, `result` and `jti_sha256`.
pub const AUDIT_CLAIM_FIELDS: [&str; 10] = [
    "repository",
    "repository_id",
    "repository_owner_id",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
    "actor",
    "run_id",
    "run_attempt",
    "sha",
];

/// Everything logged, at every level, on the current thread while the returned guard lives (a
/// `current_thread` test runtime runs every task there).
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Captures text lines (no colours), down to TRACE.
    pub fn start() -> (Capture, DefaultGuard) {
        listen_everywhere();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    /// Captures JSON lines (one object per event, as the server's `--log-format json`), down
    /// to TRACE.
    pub fn start_json() -> (Capture, DefaultGuard) {
        listen_everywhere();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(capture.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// Installs [`Everything`] as the global subscriber, once per process (a global one set by someone
/// else is left alone).
fn listen_everywhere() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(Everything);
    });
}

/// The global subscriber: interested in every call site at every level, records nothing.
struct Everything;

impl Subscriber for Everything {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}
