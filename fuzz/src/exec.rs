//! Driving async code that never waits, without a runtime.
//!
//! A verifier over a static key store and a body extractor over an in-memory body complete on
//! their first poll; a runtime per input would cost more than the code under test. A future
//! that does wait here is a finding (it would mean a static key store touched the network).

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Polls `fut` to completion with a waker that does nothing; panics if it keeps waiting.
pub fn run<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a future over in-memory input kept returning Pending");
}
