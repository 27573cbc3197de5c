//! The host's front door: forwards each request to the function on 127.0.0.1 with the internal
//! headers Vercel's host adds (`x-vercel-internal-invocation-id`, `x-vercel-internal-request-id`),
//! numbering requests from 1 so their `end` frames can be checked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::forward::{is_hop_by_hop, relay};

use super::frames::proxy_invocation_id;

/// The largest request body the front door forwards (Vercel's own limit is 4.5 MB).
const MAX_BODY: usize = 4 << 20;

#[derive(Debug)]
pub(super) struct Proxy {
    url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    function: String,
    client: reqwest::Client,
    forwarded: AtomicU64,
}

impl Proxy {
    pub(super) async fn start(function_port: u16) -> Proxy {
        // The client needs a rustls provider even for plain HTTP; under `ring` the kit's.
        ci_oidc::install_crypto_provider();
        let shared = Arc::new(Shared {
            function: format!("http://127.0.0.1:{function_port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client with no TLS settings builds"),
            forwarded: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, shared, task }
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "host: body too large").into_response();
    };
    let id = shared.forwarded.fetch_add(1, Ordering::SeqCst) + 1;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = shared
        .client
        .request(parts.method, format!("{}{path}", shared.function))
        .header("x-vercel-internal-invocation-id", proxy_invocation_id(id))
        .header("x-vercel-internal-request-id", id.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    relay(outgoing, "host").await
}
