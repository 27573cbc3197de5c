//! A mock GitHub on wiremock: the Actions OIDC token endpoint a runner exposes, and the REST
//! routes a CI client reads (a pull request, deployments, deployment statuses, issue comments).
//!
//! State is shared and mutable, so a test can make a preview "appear late": add a deployment, then
//! its `success` status a few seconds later, while the client polls. Every response carries
//! GitHub's rate-limit headers; [`ApiFault`] injects rate limits and errors. Tokens are minted with
//! the [`MockIssuer`]'s key and every mint is recorded ([`Mint`]), so a test can prove a token was
//! minted *after* the preview turned healthy. Only [`crate::DEFAULT_REPOSITORY`] exists.

mod routes;
mod shapes;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer};

use routes::{RestApi, TokenEndpoint};

use crate::keys::TestKey;
use crate::token::{TokenBuilder, now};
use crate::{DEFAULT_REPOSITORY, MockIssuer};

pub use shapes::timestamp;

const TOKEN_PATH: &str = "/_apis/distributedtask/hubs/Actions/plans/4b3c2d1e/jobs/9f8e7d6c/idtoken";
const REQUEST_TOKEN: &str = "mock-actions-runtime-request-token";
const GITHUB_TOKEN: &str = "ghs_mockInstallationToken0123456789abcdef";
/// `merge_commit_sha` of mocked pull requests: what `GITHUB_SHA` is on a `pull_request` run.
pub const MERGE_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const BASE_SHA: &str = "5b1d9e2c0f6a4e8d3c7b9a1f0e2d4c6b8a0f1e3d";

/// A token the mock minted.
#[derive(Debug, Clone)]
pub struct Mint {
    /// The audience asked for.
    pub audience: String,
    /// The token's `iat`.
    pub issued_at: i64,
    /// When the request arrived.
    pub at: SystemTime,
    /// The minted token.
    pub token: String,
}

/// A fault for the next REST requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFault {
    /// 429 with `Retry-After: secs`.
    RetryAfter(u64),
    /// 403 with `x-ratelimit-remaining: 0` and a reset `secs` from now (primary limit).
    QuotaExhausted(u64),
    /// This status with GitHub's error body and `message`.
    Status(u16, String),
}

type Customize = Arc<dyn Fn(TokenBuilder) -> TokenBuilder + Send + Sync>;

struct State {
    issuer_url: String,
    key: Arc<TestKey>,
    customize: Option<Customize>,
    mints: Vec<Mint>,
    token_faults: VecDeque<u16>,
    api_faults: VecDeque<ApiFault>,
    requests: Vec<String>,
    next_id: u64,
    pulls: Vec<(u64, String, String)>,
    deployments: Vec<Value>,
    statuses: Vec<(u64, Value)>,
    comments: Vec<(u64, Value)>,
    remaining: u64,
}

struct Shared {
    api: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The mock GitHub; the server stops when this is dropped.
pub struct MockGitHub {
    server: MockServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MockGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockGitHub")
            .field("api_url", &self.shared.api)
            .finish_non_exhaustive()
    }
}

impl MockGitHub {
    /// Starts on 127.0.0.1 with a free port; tokens are signed with `issuer`'s current key.
    pub async fn start(issuer: &MockIssuer) -> MockGitHub {
        let server = MockServer::start().await;
        let shared = Arc::new(Shared {
            api: server.uri(),
            state: Mutex::new(State {
                issuer_url: issuer.issuer_url(),
                key: issuer.signing_key(),
                customize: None,
                mints: Vec::new(),
                token_faults: VecDeque::new(),
                api_faults: VecDeque::new(),
                requests: Vec::new(),
                next_id: 1_000,
                pulls: Vec::new(),
                deployments: Vec::new(),
                statuses: Vec::new(),
                comments: Vec::new(),
                remaining: 5_000,
            }),
        });
        Mock::given(method("GET"))
            .and(path(TOKEN_PATH))
            .respond_with(TokenEndpoint(Arc::clone(&shared)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/repos/"))
            .respond_with(RestApi(Arc::clone(&shared)))
            .mount(&server)
            .await;
        MockGitHub { server, shared }
    }

    /// `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        self.server.uri()
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: already has a `?`; a client appends `&audience=...`.
    pub fn id_token_request_url(&self) -> String {
        format!("{}{TOKEN_PATH}?api-version=2.0", self.server.uri())
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn id_token_request_token(&self) -> &str {
        REQUEST_TOKEN
    }

    /// A `GITHUB_TOKEN` the REST routes accept (they also serve anonymous requests).
    pub fn github_token(&self) -> &str {
        GITHUB_TOKEN
    }

    /// Signs later tokens with `key` (after [`MockIssuer::rotate`], pass `issuer.signing_key()`).
    pub fn set_signing_key(&self, key: Arc<TestKey>) {
        self.shared.state().key = key;
    }

    /// Applies `f` to every token before it is signed (another repository, an expired token...).
    pub fn customize_tokens(
        &self,
        f: impl Fn(TokenBuilder) -> TokenBuilder + Send + Sync + 'static,
    ) {
        self.shared.state().customize = Some(Arc::new(f));
    }

    /// The next `times` token requests answer `status`.
    pub fn fail_token_requests(&self, status: u16, times: usize) {
        self.shared
            .state()
            .token_faults
            .extend(std::iter::repeat_n(status, times));
    }

    /// Every token minted so far, oldest first.
    pub fn mints(&self) -> Vec<Mint> {
        self.shared.state().mints.clone()
    }

    /// Every token minted so far, in order.
    pub fn mint_count(&self) -> usize {
        self.shared.state().mints.len()
    }

    /// The next `times` REST requests fail with `fault`.
    pub fn fail_api(&self, fault: ApiFault, times: usize) {
        self.shared
            .state()
            .api_faults
            .extend(std::iter::repeat_n(fault, times));
    }

    /// REST requests so far, as `path?query`.
    pub fn api_requests(&self) -> Vec<String> {
        self.shared.state().requests.clone()
    }

    /// The `sha` values the deployments route was asked for.
    pub fn deployment_shas_queried(&self) -> Vec<String> {
        self.api_requests()
            .iter()
            .filter(|r| r.contains("/deployments?"))
            .filter_map(|r| {
                r.split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("sha="))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// An open pull request whose head is `head_sha` (its `merge_commit_sha` is [`MERGE_SHA`]).
    pub fn add_pull_request(&self, number: u64, head_sha: &str) {
        let mut state = self.shared.state();
        state.pulls.retain(|(n, _, _)| *n != number);
        state.pulls.push((
            number,
            head_sha.to_owned(),
            "feature/preview-smoke".to_owned(),
        ));
    }

    /// A deployment of `sha` to `environment` created by another integration, `login` (e.g. a
    /// hostile GitHub App with `deployments: write`); returns its id.
    pub fn add_deployment_by(&self, sha: &str, environment: &str, login: &str) -> u64 {
        let id = self.add_deployment(sha, environment);
        let mut state = self.shared.state();
        if let Some(deployment) = state.deployments.iter_mut().find(|d| d["id"] == id) {
            deployment["creator"] = shapes::user(&self.shared.api, login, 4_242_424);
            deployment["performed_via_github_app"] = Value::Null;
        }
        id
    }

    /// A deployment of `sha` to `environment` (created now, by the Vercel app); returns its id.
    pub fn add_deployment(&self, sha: &str, environment: &str) -> u64 {
        let mut state = self.shared.state();
        let id = next_id(&mut state);
        let git_ref = state
            .pulls
            .iter()
            .find(|(_, head, _)| head == sha)
            .map_or_else(|| sha.to_owned(), |(_, _, r)| r.clone());
        let value = shapes::deployment(&shapes::DeploymentSpec {
            api: &self.shared.api,
            full_name: DEFAULT_REPOSITORY,
            id,
            sha,
            git_ref: &git_ref,
            environment,
            created_at: now(),
        });
        state.deployments.push(value);
        id
    }

    /// A status (`pending`, `in_progress`, `success`, `failure`, `inactive`...) of a deployment.
    pub fn add_deployment_status(
        &self,
        deployment_id: u64,
        state_name: &str,
        environment_url: Option<&str>,
        target_url: Option<&str>,
    ) -> u64 {
        let mut state = self.shared.state();
        let id = next_id(&mut state);
        let environment = state
            .deployments
            .iter()
            .find(|d| d["id"] == deployment_id)
            .and_then(|d| d["environment"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let value = shapes::deployment_status(&shapes::StatusSpec {
            api: &self.shared.api,
            full_name: DEFAULT_REPOSITORY,
            id,
            deployment_id,
            state: state_name,
            environment: &environment,
            environment_url,
            target_url,
            created_at: now(),
        });
        state.statuses.push((deployment_id, value));
        id
    }

    /// A status of a deployment posted by `login`, optionally through the GitHub App `app` (its
    /// slug): e.g. a hostile app with `deployments: write` posting its own URL as a newer
    /// `success` on the Vercel bot's deployment; returns its id.
    pub fn add_deployment_status_by(
        &self,
        deployment_id: u64,
        state_name: &str,
        environment_url: Option<&str>,
        login: &str,
        app: Option<&str>,
    ) -> u64 {
        let id = self.add_deployment_status(deployment_id, state_name, environment_url, None);
        let mut state = self.shared.state();
        if let Some((_, status)) = state.statuses.iter_mut().find(|(_, s)| s["id"] == id) {
            status["creator"] = shapes::user(&self.shared.api, login, 4_242_425);
            status["performed_via_github_app"] =
                app.map_or(Value::Null, |slug| shapes::app(&self.shared.api, slug));
        }
        id
    }

    /// A comment on pull request `pull` by `author` (e.g. `vercel[bot]`); returns its id.
    pub fn add_comment(&self, pull: u64, author: &str, body: &str) -> u64 {
        let mut state = self.shared.state();
        let id = next_id(&mut state);
        let at = now();
        let value = shapes::comment(&shapes::CommentSpec {
            api: &self.shared.api,
            full_name: DEFAULT_REPOSITORY,
            id,
            pull,
            author,
            body,
            created_at: at,
            updated_at: at,
        });
        state.comments.push((pull, value));
        id
    }

    /// Edits a comment in place, as deploy bots do when a new deployment finishes.
    pub fn edit_comment(&self, id: u64, body: &str) {
        let mut state = self.shared.state();
        if let Some((_, comment)) = state.comments.iter_mut().find(|(_, c)| c["id"] == id) {
            comment["body"] = body.into();
            comment["updated_at"] = timestamp(now()).into();
        }
    }
}

fn next_id(state: &mut State) -> u64 {
    state.next_id += 1;
    state.next_id
}
