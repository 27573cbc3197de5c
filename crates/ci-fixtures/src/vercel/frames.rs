//! The host's side of the function's socket: NUL-terminated JSON frames, read as they come and
//! kept in order, so a test can wait for one or check the `end` frames against the requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::Notify;

/// Every frame the function sent, in order; a frame that is not JSON is kept as a string
/// starting with `invalid frame`, so checks fail on it.
#[derive(Debug, Clone, Default)]
pub struct Frames {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    frames: Mutex<Vec<Value>>,
    changed: Notify,
}

impl Frames {
    /// Reads `stream` until the function closes it.
    pub(crate) fn read(stream: UnixStream) -> Frames {
        let frames = Frames::default();
        let inner = frames.inner.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            loop {
                let mut frame = Vec::new();
                match reader.read_until(0, &mut frame).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let value = match frame.pop() {
                    Some(0) => serde_json::from_slice(&frame).unwrap_or_else(|e| {
                        json!(format!(
                            "invalid frame ({e}): {}",
                            String::from_utf8_lossy(&frame)
                        ))
                    }),
                    _ => json!(format!(
                        "invalid frame (no NUL terminator): {}",
                        String::from_utf8_lossy(&frame)
                    )),
                };
                if let Ok(mut frames) = inner.frames.lock() {
                    frames.push(value);
                }
                inner.changed.notify_waiters();
            }
        });
        frames
    }

    /// Every frame so far.
    pub fn all(&self) -> Vec<Value> {
        self.inner
            .frames
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// The frame at `index`, waiting up to `timeout` for it.
    pub(crate) async fn next_frame(&self, index: usize, timeout: Duration) -> Option<Value> {
        let found = self
            .wait_until(timeout, |frames| frames.len() > index)
            .await;
        found.then(|| self.all().get(index).cloned()).flatten()
    }

    /// Waits until `requests` `end` frames arrived, then checks there is exactly one per
    /// request id `1..=requests`, each with its invocation id and no error, and nothing else
    /// after `server-started`.
    pub(crate) async fn ends_match(&self, requests: u64, timeout: Duration) -> Result<(), String> {
        let ends = |frames: &[Value]| frames.iter().filter(|f| f["type"] == "end").count() as u64;
        self.wait_until(timeout, |frames| ends(frames) >= requests)
            .await;
        let frames = self.all();
        let mut seen = vec![0u32; requests as usize];
        for frame in frames.iter().skip(1) {
            let id = frame["payload"]["context"]["requestId"].as_u64();
            let want = id.map(|id| {
                json!({"type": "end", "payload": {
                    "context": {"invocationId": proxy_invocation_id(id), "requestId": id},
                    "error": null
                }})
            });
            match id {
                Some(id) if (1..=requests).contains(&id) && want.as_ref() == Some(frame) => {
                    seen[(id - 1) as usize] += 1;
                }
                _ => return Err(format!("unexpected frame: {frame}")),
            }
        }
        let missing: Vec<u64> = (1..=requests)
            .filter(|id| seen[(id - 1) as usize] == 0)
            .collect();
        let repeated: Vec<u64> = (1..=requests)
            .filter(|id| seen[(id - 1) as usize] > 1)
            .collect();
        if missing.is_empty() && repeated.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{requests} request(s) forwarded; no `end` frame for request ids {missing:?}, \
                 more than one for {repeated:?}"
            ))
        }
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.all()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.all());
            }
        }
    }
}

/// The invocation id the front door gives request `id` (the request id itself is `id`).
pub(crate) fn proxy_invocation_id(id: u64) -> String {
    format!("invocation-{id}")
}
