//! The bridge from the kit's `axum::Router` to `vercel_runtime::run`.
//!
//! The runtime's own `axum` feature collects the whole request body before the router runs,
//! which would undo the kit's promise that nothing is read from a request before the
//! deployment-environment guard (a production deployment answers 404 without touching the body)
//! and before the body limit (413 at 64 KiB, read as it streams). This bridge hands hyper's
//! streaming body to the router as it is. The answer goes back as one buffer: the kit's answers
//! are small JSON documents, complete when the handler returns (and the runtime's body type
//! must be `Sync`, which axum's is not).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;
use vercel_runtime::{AppState, Error, Request, Response, ResponseBody};

/// The kit's app as the service `vercel_runtime::run` serves.
#[derive(Debug, Clone)]
pub struct RouterService {
    router: Router,
}

impl RouterService {
    /// Wraps a finished app (`ci_preview_server::prepare`'s).
    pub fn new(router: Router) -> RouterService {
        RouterService { router }
    }
}

impl tower::Service<(AppState, Request)> for RouterService {
    type Response = Response<ResponseBody>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // A Router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (_state, request): (AppState, Request)) -> Self::Future {
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok(Response::from_parts(parts, ResponseBody::from(bytes)))
        })
    }
}
