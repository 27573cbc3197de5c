//! A mock GitHub Actions OIDC issuer on 127.0.0.1:0.
//!
//! It serves what a verifier fetches from `token.actions.githubusercontent.com`: the discovery
//! document at `/.well-known/openid-configuration` and the JWKS at `/.well-known/jwks`, and
//! mints tokens with its current signing key through [`MockIssuer::token`]. Tests drive the
//! hard cases through it: key rotation, a discovery document naming another issuer, JWKS
//! faults (error status, slowness, an empty set, garbage), and a count of JWKS requests to
//! prove caching and single-flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::keys::{FIRST_ROTATION_KEY, PRIMARY_KEY, TestKey, shared_key};
use crate::token::TokenBuilder;

/// A fault the JWKS endpoint injects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum JwksFault {
    /// Serve the keys normally.
    #[default]
    None,
    /// Answer with this HTTP status and no keys.
    Status(u16),
    /// Wait this long, then serve normally.
    Slow(Duration),
    /// Serve `{"keys":[]}`.
    Empty,
    /// Serve a body that is not JSON.
    Garbage,
}

#[derive(Debug)]
struct IssuerState {
    published: Vec<Arc<TestKey>>,
    extra_jwks: Vec<Value>,
    signing: Arc<TestKey>,
    next_rotation: usize,
    fault: JwksFault,
    discovery_issuer: Option<String>,
    cache_control: Option<String>,
}

#[derive(Debug)]
struct Shared {
    url: String,
    state: Mutex<IssuerState>,
    jwks_requests: AtomicUsize,
    discovery_requests: AtomicUsize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, IssuerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn jwks_json(&self) -> String {
        let state = self.state();
        let mut keys: Vec<Value> = state.published.iter().map(|k| k.jwk()).collect();
        keys.extend(state.extra_jwks.iter().cloned());
        json!({ "keys": keys }).to_string()
    }
}

/// The mock issuer; the server stops when this is dropped.
#[derive(Debug)]
pub struct MockIssuer {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockIssuer {
    /// Starts the issuer on 127.0.0.1 with a free port, publishing the pool's primary key.
    pub async fn start() -> MockIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let signing = shared_key(PRIMARY_KEY);
        let shared = Arc::new(Shared {
            url,
            state: Mutex::new(IssuerState {
                published: vec![Arc::clone(&signing)],
                extra_jwks: Vec::new(),
                signing,
                next_rotation: FIRST_ROTATION_KEY,
                fault: JwksFault::None,
                discovery_issuer: None,
                cache_control: Some("public, max-age=3600".to_owned()),
            }),
            jwks_requests: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // The server only ends with the test; an error here shows up as failed fetches.
            let _ = axum::serve(listener, app).await;
        });
        MockIssuer { shared, server }
    }

    /// The issuer URL, `http://127.0.0.1:PORT` (the `iss` of its tokens).
    pub fn issuer_url(&self) -> String {
        self.shared.url.clone()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks", self.shared.url)
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared.url)
    }

    /// The JWKS currently published (for `jwks_file` configurations).
    pub fn jwks_json(&self) -> String {
        self.shared.jwks_json()
    }

    /// A GitHub-shaped `pull_request` token for `audience`, signed by the current key.
    pub fn token(&self, audience: &str) -> TokenBuilder {
        TokenBuilder::new(&self.shared.url, audience, self.signing_key())
    }

    /// The current signing key.
    pub fn signing_key(&self) -> Arc<TestKey> {
        Arc::clone(&self.shared.state().signing)
    }

    /// Switches to a new signing key and publishes it beside the old ones; returns its kid.
    pub fn rotate(&self) -> String {
        let mut state = self.shared.state();
        let key = shared_key(state.next_rotation);
        state.next_rotation += 1;
        state.published.push(Arc::clone(&key));
        state.signing = Arc::clone(&key);
        key.kid().to_owned()
    }

    /// Stops publishing the key `kid`.
    pub fn remove_key(&self, kid: &str) {
        self.shared.state().published.retain(|k| k.kid() != kid);
    }

    /// Publishes only the current signing key.
    pub fn retire_old_keys(&self) {
        let mut state = self.shared.state();
        let signing = Arc::clone(&state.signing);
        state.published = vec![signing];
    }

    /// Adds a raw JWK to the published set (unusable keys, duplicates, ...).
    pub fn publish_raw_jwk(&self, jwk: Value) {
        self.shared.state().extra_jwks.push(jwk);
    }

    /// Injects a JWKS fault (`JwksFault::None` heals it).
    pub fn set_fault(&self, fault: JwksFault) {
        self.shared.state().fault = fault;
    }

    /// Makes the discovery document claim another `issuer` (`None` = the real one).
    pub fn set_discovery_issuer(&self, issuer: Option<&str>) {
        self.shared.state().discovery_issuer = issuer.map(str::to_owned);
    }

    /// The JWKS `Cache-Control` header (`None` = no header). Default `public, max-age=3600`.
    pub fn set_cache_control(&self, value: Option<&str>) {
        self.shared.state().cache_control = value.map(str::to_owned);
    }

    /// JWKS requests served so far (faulty ones included).
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Discovery requests served so far.
    pub fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// A `ci-policy.toml` trusting this issuer, with one endpoint `name` for `audience`,
    /// allowing the fixture's default repository and workflow.
    pub fn policy_toml(&self, name: &str, audience: &str) -> String {
        crate::policy_toml(&self.shared.url, name, audience)
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let issuer = shared
        .state()
        .discovery_issuer
        .clone()
        .unwrap_or_else(|| shared.url.clone());
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/.well-known/jwks", shared.url),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": [
            "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
            "repository_id", "repository_owner", "repository_owner_id", "enterprise",
            "enterprise_id", "run_id", "run_number", "run_attempt", "actor", "actor_id",
            "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name",
            "ref_type", "ref_protected", "environment", "environment_node_id",
            "job_workflow_ref", "job_workflow_sha", "repository_visibility",
            "runner_environment", "check_run_id"
        ],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let (fault, cache_control) = {
        let state = shared.state();
        (state.fault.clone(), state.cache_control.clone())
    };
    let body = match fault {
        JwksFault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "injected failure").into_response();
        }
        JwksFault::Garbage => "<html>not a JWKS {".to_owned(),
        JwksFault::Empty => r#"{"keys":[]}"#.to_owned(),
        JwksFault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            shared.jwks_json()
        }
        JwksFault::None => shared.jwks_json(),
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(value) = cache_control.and_then(|v| v.parse().ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
