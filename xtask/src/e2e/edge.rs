//! The emulated Vercel edge in front of the preview: HTTPS on the preview's hostname with the
//! test CA, Deployment Protection (ci-fixtures' emulation, when protected), then the project's
//! `vercel.json` rewrites, forwarding to `next start` or to the function under the emulated
//! Vercel host.
//!
//! Like Vercel's edge it forwards `host`, `x-forwarded-host`, `x-forwarded-proto: https` and
//! `x-forwarded-for`, which is how Auth.js picks its `__Secure-` cookie names and the session
//! endpoint names the cookie it issues. Redirects pass through untouched (a browser follows them).

use std::sync::Arc;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ci_fixtures::DeploymentProtection;
use ci_fixtures::forward::{is_hop_by_hop, relay};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::rewrites::{Rewrites, Route};
use crate::flags::{Result, failed};

/// Vercel's own limit on a request body.
const MAX_BODY: usize = 4_500_000;

/// Where the edge sends requests.
pub(super) struct Upstreams {
    /// The app (`next start`), `http://127.0.0.1:PORT`.
    pub app: String,
    /// The function's front door under the emulated host, `http://127.0.0.1:PORT`.
    pub function: String,
}

struct Shared {
    host: String,
    rewrites: Rewrites,
    upstreams: Upstreams,
    client: reqwest::Client,
}

pub(super) struct Edge {
    task: JoinHandle<()>,
}

impl Edge {
    /// Takes a free port on 127.0.0.1 first: the preview's URL must be known before the app and
    /// the function start, and they must run before the edge forwards to them.
    pub(super) async fn bind() -> Result<(TcpListener, u16)> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| failed(format!("edge: cannot bind 127.0.0.1:0: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| failed(e.to_string()))?
            .port();
        Ok((listener, port))
    }

    /// Serves `host` on `listener`, behind `protection` when given.
    pub(super) fn serve(
        listener: TcpListener,
        host: &str,
        tls: Arc<rustls::ServerConfig>,
        rewrites: Rewrites,
        upstreams: Upstreams,
        protection: Option<&DeploymentProtection>,
    ) -> Result<Edge> {
        let shared = Arc::new(Shared {
            host: host.to_owned(),
            rewrites,
            upstreams,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .map_err(|e| failed(format!("edge: HTTP client: {e}")))?,
        });
        let mut router = Router::new().fallback(forward).with_state(shared);
        if let Some(protection) = protection {
            router = protection.protect(router);
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    // A client that gives up on the test certificate is not the edge's problem.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Edge { task })
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(edge): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "edge: body too large").into_response();
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = match edge.rewrites.route(parts.uri.path()) {
        Route::App(path) => format!("{}{path}{query}", edge.upstreams.app),
        Route::Function(_) => format!("{}{}{query}", edge.upstreams.function, parts.uri.path()),
    };
    let mut outgoing = edge.client.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && !name.as_str().starts_with("x-forwarded-") {
            outgoing = outgoing.header(name, value);
        }
    }
    // The host as the client named it: with the port, since this edge is not on 443.
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.split(':').next() == Some(edge.host.as_str()))
        .unwrap_or(edge.host.as_str());
    let forwarded = [
        ("host", host),
        ("x-forwarded-host", host),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-real-ip", "127.0.0.1"),
    ];
    for (name, value) in forwarded {
        outgoing = outgoing.header(name, value);
    }
    let mut response = relay(outgoing, "edge").await;
    response.headers_mut().insert(
        "x-vercel-id",
        HeaderValue::from_static("e2e::emulated-edge"),
    );
    response
}
