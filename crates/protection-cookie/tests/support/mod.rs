//! The set-up of the endpoint tests: the CI server (the kit around this endpoint) and a page app,
//! both behind ci-fixtures' emulated Vercel edge, with every header the deployment received kept.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::routing::get;
use ci_fixtures::protection::{COOKIE_NAME, DeploymentProtection, Passage, VercelEdge};
use ci_fixtures::{MockIssuer, TestApp, test_audience};
use protection_cookie::{BYPASS_SECRET_VAR, NAME, OwnHosts};
use serde_json::Value;
use tokio::net::TcpListener;

pub(crate) const SECRET: &str = "bypass-secret-that-must-stay-in-the-deployment-0123";
pub(crate) const PROTECTION_AUDIENCE: &str = "https://vercel.com/octo-org/trusted-sources";
pub(crate) const PAGE: &str = "the app's home page";

/// Every header value the deployment (the CI server and the app) received.
#[derive(Clone, Default)]
pub(crate) struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    pub(crate) fn layer(self, router: Router) -> Router {
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let seen = self.clone();
            let headers: Vec<String> = request
                .headers()
                .iter()
                .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
                .collect();
            seen.0.lock().unwrap().extend(headers);
            async move { next.run(request).await }
        }))
    }

    pub(crate) fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

pub(crate) struct Setup {
    pub issuer: MockIssuer,
    pub edge: VercelEdge,
    /// The CI server reached directly, without the edge.
    pub direct: String,
    pub received: Received,
    pub http: reqwest::Client,
}

#[derive(Clone)]
pub(crate) struct Options {
    pub environment: Option<&'static str>,
    pub secret: Option<&'static str>,
    /// The bypass secret the edge accepts.
    pub edge_secret: &'static str,
    pub policy_keys: &'static str,
    /// `CI_PREVIEW_SELF_URL` is the CI server itself (no edge in the priming path).
    pub self_is_direct: bool,
}

pub(crate) const DEFAULT: Options = Options {
    environment: Some("preview"),
    secret: Some(SECRET),
    edge_secret: SECRET,
    policy_keys: "",
    self_is_direct: false,
};

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

pub(crate) async fn start(options: Options) -> Setup {
    let issuer = MockIssuer::start().await;
    let protection = DeploymentProtection::new()
        .with_bypass(options.edge_secret)
        .with_trusted_source(&issuer, PROTECTION_AUDIENCE);
    // The edge's address first: the deployment must know its own URL.
    let edge_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge_url = format!("http://{}", edge_listener.local_addr().unwrap());
    let server_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let direct = format!("http://{}", server_listener.local_addr().unwrap());
    let self_url = if options.self_is_direct {
        &direct
    } else {
        &edge_url
    };
    let hosts = OwnHosts::default().with_self_url(self_url).unwrap();
    let mut app = TestApp::builder(protection_cookie::endpoint_with(hosts))
        .environment(options.environment)
        .policy_keys(options.policy_keys);
    if let Some(secret) = options.secret {
        app = app.var(BYPASS_SECRET_VAR, secret);
    }
    let received = Received::default();
    let server = received.clone().layer(app.router_for(&issuer).unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(server_listener, server).await;
    });
    let page = serve(
        received
            .clone()
            .layer(Router::new().route("/", get(|| async { PAGE }))),
    )
    .await;
    let edge = VercelEdge::builder(protection)
        .route("/api/~/ci/", &direct)
        .upstream(&page)
        .start_on(edge_listener);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        issuer,
        edge,
        direct,
        received,
        http,
    }
}

impl Setup {
    pub(crate) fn endpoint_token(&self) -> String {
        self.issuer.token(&test_audience(NAME)).build()
    }

    /// POSTs `body` to the endpoint at `base`, past the edge with a Trusted Sources token.
    pub(crate) async fn ask(
        &self,
        base: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{base}/api/~/ci/{NAME}"))
            .header(
                "x-vercel-trusted-oidc-idp-token",
                self.issuer.token(PROTECTION_AUDIENCE).build(),
            )
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.header(ci_endpoint::TOKEN_HEADER, token);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn ask_edge(&self, body: &str) -> (u16, Value) {
        let token = self.endpoint_token();
        self.ask(self.edge.url(), Some(&token), &[], body).await
    }

    pub(crate) fn primed(&self) -> usize {
        let seen = self.edge.protection().seen();
        seen.iter().filter(|s| s.passage == Passage::Primed).count()
    }

    pub(crate) async fn page_with(&self, host: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/", self.edge.url()))
            .header("host", host);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{COOKIE_NAME}={cookie}"));
        }
        request.send().await.unwrap()
    }
}
