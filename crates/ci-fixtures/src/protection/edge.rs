//! The emulated edge as a front door on a socket: every request meets [`DeploymentProtection`]
//! first, then is forwarded to the upstream its path is routed to, with the headers Vercel's edge
//! sets (`Host` and `x-forwarded-host` = the host the client asked for, `x-forwarded-proto`,
//! `x-forwarded-for`), whatever forwarded headers the client sent replaced. Routes are path
//! prefixes, like a `vercel.json` rewrite: the upstream sees the original path.
//!
//! ```no_run
//! # async fn demo(function_url: &str, app_url: &str) {
//! use ci_fixtures::protection::{DeploymentProtection, VercelEdge};
//!
//! let protection = DeploymentProtection::new().with_bypass("bypass-secret");
//! let edge = VercelEdge::builder(protection.clone())
//!     .route("/api/~/ci/", function_url) // the CI routes to the function
//!     .upstream(app_url) //                  everything else to the app
//!     .start()
//!     .await;
//! // Give the deployment CI_PREVIEW_SELF_URL = edge.url(); point clients at edge.url().
//! # }
//! ```
//!
//! For HTTPS, serve [`EdgeBuilder::router`] with your own TLS acceptor and tell the edge with
//! [`EdgeBuilder::forwarded_proto`].

use std::sync::Arc;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::forward::{is_hop_by_hop, relay};

use super::{DeploymentProtection, request_host, strip};

/// The largest request body forwarded (Vercel's function limit is 4.5 MB).
const MAX_BODY: usize = 4 << 20;

/// Headers the edge sets itself; a client's own values are dropped.
const EDGE_SET: [&str; 4] = [
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-for",
    "x-real-ip",
];

/// How to build a [`VercelEdge`]; [`VercelEdge::builder`] starts one.
#[derive(Debug, Clone)]
pub struct EdgeBuilder {
    protection: DeploymentProtection,
    routes: Vec<(String, String)>,
    fallback: Option<String>,
    proto: &'static str,
    hosts: Option<Vec<String>>,
}

impl EdgeBuilder {
    /// Requests whose path starts with `prefix` go to `upstream` (`http://127.0.0.1:PORT`);
    /// the first matching route wins.
    pub fn route(mut self, prefix: &str, upstream: &str) -> Self {
        self.routes
            .push((prefix.to_owned(), upstream.trim_end_matches('/').to_owned()));
        self
    }

    /// Where requests no route matches go.
    pub fn upstream(mut self, upstream: &str) -> Self {
        self.fallback = Some(upstream.trim_end_matches('/').to_owned());
        self
    }

    /// The `x-forwarded-proto` the deployment sees (default `http`; `https` behind TLS).
    pub fn forwarded_proto(mut self, proto: &'static str) -> Self {
        self.proto = proto;
        self
    }

    /// The hosts (with port, as in `Host`) this deployment answers on; any other host gets
    /// Vercel's `404 DEPLOYMENT_NOT_FOUND`. Default: every host reaches the deployment.
    pub fn hosts<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hosts: I) -> Self {
        self.hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// The edge as a router, to serve on a listener of your own (e.g. behind TLS).
    pub fn router(self) -> Router {
        // The client needs a rustls provider even for plain HTTP; under `ring` the kit's.
        ci_oidc::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with no TLS settings builds");
        let shared = Arc::new(Shared {
            config: self,
            client,
        });
        Router::new().fallback(forward).with_state(shared)
    }

    /// Serves the edge on 127.0.0.1 (a free port).
    pub async fn start(self) -> VercelEdge {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        self.start_on(listener)
    }

    /// Serves the edge on `listener`: bind it first when the deployment must know the edge's
    /// URL before the edge knows the deployment's.
    pub fn start_on(self, listener: TcpListener) -> VercelEdge {
        let address = listener.local_addr().expect("a bound listener");
        let protection = self.protection.clone();
        let router = self.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        VercelEdge {
            url: format!("http://{address}"),
            host: address.to_string(),
            protection,
            task,
        }
    }
}

/// A running emulated edge; stops when dropped.
#[derive(Debug)]
pub struct VercelEdge {
    url: String,
    host: String,
    protection: DeploymentProtection,
    task: JoinHandle<()>,
}

impl VercelEdge {
    /// An edge enforcing `protection`, with no upstream yet.
    pub fn builder(protection: DeploymentProtection) -> EdgeBuilder {
        EdgeBuilder {
            protection,
            routes: Vec::new(),
            fallback: None,
            proto: "http",
            hosts: None,
        }
    }

    /// `http://127.0.0.1:PORT`: the deployment's URL as clients (and the deployment) reach it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`: the host (as in `Host`) of [`VercelEdge::url`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The protection it enforces, with its record.
    pub fn protection(&self) -> &DeploymentProtection {
        &self.protection
    }
}

impl Drop for VercelEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Shared {
    config: EdgeBuilder,
    client: reqwest::Client,
}

impl Shared {
    fn upstream_for(&self, path: &str) -> Option<&str> {
        self.config
            .routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, upstream)| upstream.as_str())
            .or(self.config.fallback.as_deref())
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let host = request_host(&request);
    if let Some(hosts) = &shared.config.hosts
        && !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
    {
        return (
            StatusCode::NOT_FOUND,
            [("x-vercel-error", "DEPLOYMENT_NOT_FOUND")],
            "The deployment could not be found on Vercel.",
        )
            .into_response();
    }
    if let Some(answer) = shared
        .config
        .protection
        .gate(&host, request.uri(), request.headers())
    {
        return answer;
    }
    let (mut parts, body) = request.into_parts();
    strip(&mut parts.headers);
    let Some(upstream) = shared.upstream_for(parts.uri.path()) else {
        return (StatusCode::BAD_GATEWAY, "edge: no upstream for this path").into_response();
    };
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "edge: body too large").into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = shared
        .client
        .request(parts.method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && !EDGE_SET.contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(host_value) = HeaderValue::from_str(&host) else {
        return (StatusCode::BAD_REQUEST, "edge: invalid host").into_response();
    };
    outgoing = outgoing
        .header(header::HOST, host_value.clone())
        .header("x-forwarded-host", host_value)
        .header("x-forwarded-proto", shared.config.proto)
        .header("x-forwarded-for", "127.0.0.1")
        .header("x-real-ip", "127.0.0.1");
    relay(outgoing, "edge").await
}
