//! Reverse-proxy plumbing the emulated hosts share (the Vercel edge, the function host's proxy and
//! `cargo xtask e2e`'s HTTPS edge): which headers never cross a proxy, and relaying an upstream's
//! answer back as an axum response. One copy, so the three hops forward alike.

use axum::body::Body;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// Headers that belong to one connection and are never forwarded either way (`host` and
/// `content-length` are set by the outgoing request itself).
const HOP_BY_HOP: [&str; 6] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
];

/// Whether `name` stays on its own side of a proxy.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Sends `outgoing` and answers with what came back: its status, its body and its headers but the
/// hop-by-hop ones. A request that cannot be sent answers 502, the error prefixed with `hop` (the
/// emulated piece that failed, e.g. `edge`).
pub async fn relay(outgoing: reqwest::RequestBuilder, hop: &str) -> Response {
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("{hop}: {e}")).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !is_hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
