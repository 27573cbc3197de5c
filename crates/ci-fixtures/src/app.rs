//! The in-process app harness: the real kit (`ci_endpoint::server::app_with`) around the endpoints under
//! test, a mock issuer, a policy naming both, a static verifier, and requests sent without a
//! socket. An endpoint's test states only what is specific to it.

use std::ffi::OsString;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
};
use ci_endpoint::{
    Endpoint,
    server::{AppOptions, Deployment, Policy, StartupError, replay::ReplayStore},
};
use ci_oidc::{KeyStore, Verifier};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{EndpointRequest, MockIssuer, TokenBuilder};

/// The audience tests give endpoint `name`: `https://ci.test/api/~/ci/{name}`.
pub fn test_audience(name: &str) -> String {
    format!("https://ci.test{}", ci_endpoint::endpoint_path(name))
}

/// How to build a [`TestApp`]; [`TestApp::builder`] starts one.
#[derive(Debug)]
pub struct TestAppBuilder {
    endpoints: Vec<Endpoint>,
    deployment: Deployment,
    policy_keys: String,
    env: Vec<(String, OsString)>,
    replay_store: Option<ReplayStore>,
    verifier: Option<fn(&MockIssuer) -> Verifier>,
}

impl TestAppBuilder {
    /// Another endpoint, with its own policy entry (audience [`test_audience`]).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// The deployment's environment (default `preview`); `None` is unset.
    pub fn environment(mut self, environment: Option<&str>) -> Self {
        self.deployment.environment = environment.map(str::to_owned);
        self
    }

    /// The whole deployment identity (default: `preview`, nothing else known).
    pub fn deployment(mut self, deployment: Deployment) -> Self {
        self.deployment = deployment;
        self
    }

    /// Extra keys for the first endpoint's policy entry, e.g. `"single_use = true\n"`.
    pub fn policy_keys(mut self, keys: &str) -> Self {
        self.policy_keys.push_str(keys);
        self
    }

    /// The strict posture a destructive endpoint's entry needs (`Endpoint::destructive`:
    /// `single_use`, `bind_deployment`, the repository pinned by id) and the preview of the pull
    /// request default tokens come from, so the binding accepts them. Call it before adding
    /// `policy_keys` that open a sub-table (`[endpoints."NAME".config]`).
    pub fn strict(self) -> Self {
        let pull_request = crate::DEFAULT_PULL_REQUEST.to_string();
        let preview = Deployment::from_lookup(|name| match name {
            "VERCEL_ENV" => Some("preview".to_owned()),
            "VERCEL_GIT_PULL_REQUEST_ID" => Some(pull_request.clone()),
            "CI_PREVIEW_REPOSITORY" => Some(crate::DEFAULT_REPOSITORY.to_owned()),
            "CI_PREVIEW_REPOSITORY_ID" => Some(crate::DEFAULT_REPOSITORY_ID.to_owned()),
            _ => None,
        });
        let posture = format!(
            "single_use = true\nbind_deployment = true\nrepository_ids = [{:?}]\n",
            crate::DEFAULT_REPOSITORY_ID
        );
        self.deployment(preview).policy_keys(&posture)
    }

    /// Sets a variable the kit reads endpoint secrets from. Only variables set here are seen:
    /// the process environment is not read.
    pub fn var(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Records `single_use` tokens in `store` instead of a fresh in-memory one.
    pub fn replay_store(mut self, store: ReplayStore) -> Self {
        self.replay_store = Some(store);
        self
    }

    /// A verifier other than the static one (e.g. keys fetched from the issuer, to test faults).
    pub fn verifier(mut self, verifier: fn(&MockIssuer) -> Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Starts a mock issuer and builds the app; panics on a start-up error.
    pub async fn start(self) -> TestApp {
        let issuer = MockIssuer::start().await;
        self.start_with(issuer)
            .unwrap_or_else(|e| panic!("app builds: {e}"))
    }

    /// Builds the app against `issuer`, or returns the kit's start-up error.
    pub fn start_with(self, issuer: MockIssuer) -> Result<TestApp, StartupError> {
        let first = self
            .endpoints
            .first()
            .map(|e| e.name())
            .expect("an endpoint");
        let (router, policy_toml) = self.build(&issuer)?;
        Ok(TestApp {
            issuer,
            router,
            policy_toml,
            path: ci_endpoint::endpoint_path(first),
            audience: test_audience(first),
        })
    }

    /// Only the router, against an issuer several apps share (send with [`send`]).
    pub fn router_for(self, issuer: &MockIssuer) -> Result<Router, StartupError> {
        self.build(issuer).map(|(router, _)| router)
    }

    fn build(self, issuer: &MockIssuer) -> Result<(Router, String), StartupError> {
        let mut policy_toml = format!("[issuer]\nurl = {:?}\n", issuer.issuer_url());
        for (i, endpoint) in self.endpoints.iter().enumerate().rev() {
            policy_toml.push('\n');
            policy_toml.push_str(&crate::policy_entry(
                endpoint.name(),
                &test_audience(endpoint.name()),
            ));
            // The first endpoint's entry is written last, so its extra keys land in its table.
            if i == 0 {
                policy_toml.push_str(&self.policy_keys);
            }
        }
        let policy = Policy::from_toml_str(&policy_toml).expect("test policy is valid");
        let verifier = match self.verifier {
            Some(make) => make(issuer),
            None => static_verifier(issuer),
        };
        let mut options = AppOptions::default().with_env(self.env);
        if let Some(store) = self.replay_store {
            options = options.with_replay_store(store);
        }
        let router = ci_endpoint::server::app_with(
            policy,
            self.deployment,
            verifier,
            self.endpoints,
            options,
        )?;
        Ok((router, policy_toml))
    }
}

/// A verifier with `issuer`'s current keys loaded statically: no fetch in the request path.
pub fn static_verifier(issuer: &MockIssuer) -> Verifier {
    let keys = KeyStore::from_jwks_json(issuer.jwks_json().as_bytes()).expect("mock JWKS parses");
    Verifier::new(issuer.issuer_url(), keys)
}

/// The kit's router around endpoints under test, with the mock issuer its tokens come from.
/// Requests go to the first endpoint unless a test builds its own.
#[derive(Debug)]
pub struct TestApp {
    issuer: MockIssuer,
    router: Router,
    policy_toml: String,
    path: String,
    audience: String,
}

impl TestApp {
    /// A builder for `endpoint`, served in `preview`.
    pub fn builder(endpoint: Endpoint) -> TestAppBuilder {
        TestAppBuilder {
            endpoints: vec![endpoint],
            deployment: Deployment::in_environment("preview"),
            policy_keys: String::new(),
            env: Vec::new(),
            replay_store: None,
            verifier: None,
        }
    }

    /// The mock issuer the app's tokens come from.
    pub fn issuer(&self) -> &MockIssuer {
        &self.issuer
    }

    /// The kit's router, for requests built by hand.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The issuer and the router, for tests written against a bare `Router`.
    pub fn into_parts(self) -> (MockIssuer, Router) {
        (self.issuer, self.router)
    }

    /// The policy the app was built with.
    pub fn policy_toml(&self) -> &str {
        &self.policy_toml
    }

    /// The first endpoint's path, `/api/~/ci/{name}`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first endpoint's audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// A token builder for the first endpoint (default claims pass its policy).
    pub fn token(&self) -> TokenBuilder {
        self.issuer.token(&self.audience)
    }

    /// A token the first endpoint accepts.
    pub fn good_token(&self) -> String {
        self.token().build()
    }

    /// A request to the first endpoint, to finish with headers and a body.
    pub fn call(&self) -> EndpointRequest {
        EndpointRequest::post(&self.path)
    }

    /// A JSON `POST` to the first endpoint, with `token` in the kit's header if given.
    pub fn request(&self, token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
        self.call().token(token).body(body)
    }

    /// Sends [`TestApp::request`].
    pub async fn post(&self, token: Option<&str>, body: impl Into<Body>) -> Answer {
        self.send(self.request(token, body)).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(
            Request::get(path)
                .body(Body::empty())
                .expect("request builds"),
        )
        .await
    }

    /// The health document.
    pub async fn health(&self) -> Value {
        self.get("/api/~/ci/health").await.json()
    }

    /// Sends `request` in-process and reads the whole answer.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        send(&self.router, request).await
    }
}

/// Sends `request` to `router` in-process and reads the whole answer.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

/// Asserts the status and the exact body bytes of the contract.
#[track_caller]
pub fn assert_answer(answer: &Answer, status: u16, body: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (status, body),
        "{answer:?}"
    );
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, as UTF-8 text.
    pub body: String,
}

impl Answer {
    /// The `content-type` header, empty when absent.
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON; panics if it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}
