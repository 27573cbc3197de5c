//! Shared test harness: runs the real `ci-preview` binary with a clean environment against the
//! mock GitHub (ci-fixtures) and a small axum stand-in for the preview's CI routes.
//!
//! The stand-in is programmable (health answer, commit, endpoint answers) and records what the
//! client sent and when it turned healthy, so tests can check ordering (a token minted after the
//! preview was ready) and that secrets were sent only where they belong.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub(crate) use ci_fixtures::Run;
use ci_fixtures::github::MockGitHub;
use ci_fixtures::{DeploymentProtection, MockIssuer};
use serde_json::{Value, json};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ci-preview");
pub(crate) const ENDPOINT: &str = "flags/encrypt-override";
pub(crate) const AUDIENCE: &str = "https://v0.app/api/~/ci/flags/encrypt-override";
/// An endpoint whose call is not safe to repeat (the stand-in answers it like [`ENDPOINT`]).
pub(crate) const UNSAFE_ENDPOINT: &str = "proxy/upstream";
/// The stable domain the mock previews name in their audience ([`AUDIENCE`]): the client takes an
/// announced audience on another host than the preview's only when the user allowed that host,
/// as a team whose policy names its production domain does (`--allow-host`).
pub(crate) const AUDIENCE_HOST: &str = "v0.app";
pub(crate) const HEAD_SHA: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
pub(crate) const OLD_SHA: &str = "ffffeeeeddddccccbbbbaaaa9999888877776666";
pub(crate) const BYPASS: &str = "bypass-secret-do-not-print-7f3a9c";
pub(crate) const FLAGS_HEADER: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";
/// The protection audience the client derives for [`ci_fixtures::DEFAULT_REPOSITORY`].
pub(crate) const PROTECTION_AUDIENCE: &str = "https://github.com/octo-org";

/// What a runner sets for a job with `id-token: write`: the API, the repository and where to
/// request an OIDC token.
pub(crate) fn runner_env(github: &MockGitHub) -> [(&'static str, String); 4] {
    [
        ("GITHUB_API_URL", github.api_url().to_owned()),
        (
            "GITHUB_REPOSITORY",
            ci_fixtures::DEFAULT_REPOSITORY.to_owned(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            github.id_token_request_url().to_owned(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            github.id_token_request_token().to_owned(),
        ),
    ]
}

/// The binary with a clean environment (nothing leaks in from the machine running the tests).
pub(crate) struct Client {
    cmd: tokio::process::Command,
}

impl Client {
    pub(crate) fn new(args: &[&str]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("CI_PREVIEW_ALLOW_HOSTS", AUDIENCE_HOST)
            .kill_on_drop(true);
        Self { cmd }
    }

    pub(crate) fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Runs the client in `dir` (as a developer runs it in their app's folder).
    pub(crate) fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// The variables a runner sets for a job with `id-token: write` and a GITHUB_TOKEN.
    pub(crate) fn github(mut self, github: &MockGitHub) -> Self {
        self.cmd.envs(runner_env(github));
        self.env("GITHUB_TOKEN", github.github_token())
            // The merge commit: a client must never look it up.
            .env("GITHUB_SHA", ci_fixtures::github::MERGE_SHA)
    }

    /// Discovered previews of these tests live on 127.0.0.1.
    pub(crate) fn allow_loopback(self) -> Self {
        self.env(
            "CI_PREVIEW_ALLOW_HOSTS",
            format!("127.0.0.1,{AUDIENCE_HOST}"),
        )
    }

    pub(crate) fn in_actions(self) -> Self {
        self.env("GITHUB_ACTIONS", "true")
    }

    /// A pull_request event payload for PR #12 whose head is `head_sha`.
    pub(crate) fn pull_request_event(self, dir: &Path, number: u64, head_sha: &str) -> Self {
        let path = dir.join("event.json");
        let payload = json!({
            "action": "synchronize",
            "number": number,
            "pull_request": {"number": number, "head": {"sha": head_sha, "ref": "feature/preview-smoke"},
                             "merge_commit_sha": ci_fixtures::github::MERGE_SHA}
        });
        std::fs::write(&path, payload.to_string()).unwrap();
        self.env("GITHUB_EVENT_PATH", &path)
            .env("GITHUB_EVENT_NAME", "pull_request")
    }

    pub(crate) async fn run(mut self) -> Run {
        let output = tokio::time::timeout(Duration::from_secs(120), self.cmd.output())
            .await
            .expect("ci-preview finished within 120 s")
            .expect("ci-preview ran");
        let run = Run::from(output);
        eprintln!(
            "--- exit {}\n--- stdout\n{}--- stderr\n{}",
            run.code, run.stdout, run.stderr
        );
        run
    }
}

pub(crate) async fn mocks() -> (MockIssuer, MockGitHub) {
    let issuer = MockIssuer::start().await;
    let github = MockGitHub::start(&issuer).await;
    (issuer, github)
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a JWT, unverified (the stand-in only needs `aud` and `iat`).
pub(crate) fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A cookie with the Flags SDK's JWE shape (the stand-in cannot encrypt; the client only checks shape).
pub(crate) fn fake_cookie() -> String {
    let b = |n: usize, fill: u8| URL_SAFE_NO_PAD.encode(vec![fill; n]);
    format!("{FLAGS_HEADER}..{}.{}.{}", b(12, 1), b(48, 2), b(16, 3))
}

/// How the stand-in's health route answers.
#[derive(Debug, Clone)]
pub(crate) enum HealthMode {
    Serving(String),
    Status(u16),
    NotFoundVercel,
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub token: String,
    pub bypass: Option<String>,
    pub body: Value,
    pub at: SystemTime,
}

pub(crate) struct PreviewState {
    pub health: HealthMode,
    pub ready: bool,
    pub audience: String,
    /// Health's `environment` (hostile tests put workflow commands in it).
    pub environment: String,
    /// Answers for the next calls; empty = success with a cookie.
    pub answers: VecDeque<(u16, String)>,
    /// `Retry-After` seconds sent with every 503 of `answers`.
    pub retry_after: Option<u64>,
    pub cookie: String,
    pub healthy_since: Option<SystemTime>,
    pub health_bypass: Vec<Option<String>>,
    pub calls: Vec<Call>,
}

#[derive(Clone)]
pub(crate) struct Preview {
    pub url: String,
    state: Arc<Mutex<PreviewState>>,
}

impl Preview {
    pub(crate) async fn start(health: HealthMode) -> Preview {
        Self::start_behind(health, None).await
    }

    /// The stand-in behind a mock of Vercel's Deployment Protection.
    pub(crate) async fn start_protected(
        health: HealthMode,
        protection: &DeploymentProtection,
    ) -> Preview {
        Self::start_behind(health, Some(protection)).await
    }

    async fn start_behind(
        health: HealthMode,
        protection: Option<&DeploymentProtection>,
    ) -> Preview {
        let state = Arc::new(Mutex::new(PreviewState {
            health,
            ready: true,
            audience: AUDIENCE.to_owned(),
            environment: "preview".to_owned(),
            answers: VecDeque::new(),
            retry_after: None,
            cookie: fake_cookie(),
            healthy_since: None,
            health_bypass: Vec::new(),
            calls: Vec::new(),
        }));
        let mut app = Router::new()
            .route("/", get(|| async { "the app's home page" }))
            .route("/api/~/ci/health", get(health_route))
            .route("/api/~/ci/flags/encrypt-override", post(endpoint_route))
            .route(
                &format!("/api/~/ci/{UNSAFE_ENDPOINT}"),
                post(endpoint_route),
            )
            .with_state(Arc::clone(&state));
        if let Some(protection) = protection {
            app = protection.protect(app);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Preview { url, state }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, PreviewState> {
        self.state.lock().unwrap()
    }

    pub(crate) fn set_health(&self, health: HealthMode) {
        self.state().health = health;
    }

    /// Switches health to `mode` after `delay`, from a background task.
    pub(crate) fn set_health_after(&self, delay: Duration, mode: HealthMode) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            this.set_health(mode);
        });
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }
}

async fn health_route(
    State(state): State<Arc<Mutex<PreviewState>>>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    state.health_bypass.push(bypass_of(&headers));
    match state.health.clone() {
        HealthMode::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        HealthMode::NotFoundVercel => (
            StatusCode::NOT_FOUND,
            [("x-vercel-error", "DEPLOYMENT_NOT_FOUND")],
            "The deployment could not be found",
        )
            .into_response(),
        HealthMode::Serving(commit) => {
            if commit == HEAD_SHA && state.healthy_since.is_none() {
                state.healthy_since = Some(SystemTime::now());
            }
            let body = json!({
                "status": "ok", "environment": state.environment, "commit": commit, "ref": "feature/preview-smoke",
                "pull_request": "12", "policy_sha256": "00",
                "endpoints": [{"name": ENDPOINT, "path": "/api/~/ci/flags/encrypt-override",
                               "audience": state.audience, "ready": state.ready}]
            });
            axum::Json(body).into_response()
        }
    }
}

async fn endpoint_route(
    State(state): State<Arc<Mutex<PreviewState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut state = state.lock().unwrap();
    let token = headers
        .get("x-github-oidc-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.calls.push(Call {
        token: token.clone(),
        bypass: bypass_of(&headers),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        at: SystemTime::now(),
    });
    if let Some((status, body)) = state.answers.pop_front() {
        let mut response = (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response();
        if let Some(secs) = state.retry_after.filter(|_| status == 503) {
            response
                .headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
        }
        return response;
    }
    // The endpoint's policy audience, whatever health announces.
    if token.is_empty() || claims(&token)["aud"] != AUDIENCE {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let expires = unix_now() + body["maxAge"].as_i64().unwrap_or(7200);
    axum::Json(json!({ "cookie": state.cookie, "expires": expires })).into_response()
}

fn bypass_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-vercel-protection-bypass")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
