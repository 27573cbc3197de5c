//! The GitHub REST API, through octocrab: the pull request's head, its deployments and their
//! statuses, and its comments.
//!
//! Requests go through `Octocrab::_get` rather than the typed builders so the client sees the
//! response headers: polling must respect `Retry-After` and `x-ratelimit-reset`, and octocrab's
//! typed errors drop them. Bodies still deserialize into octocrab's models. The base URL comes
//! from `GITHUB_API_URL`, so GitHub Enterprise Server and a mock both work.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use octocrab::Octocrab;
use octocrab::models::issues::Comment;
use octocrab::models::pulls::PullRequest;
use octocrab::models::{Deployment, DeploymentStatus, DeploymentStatusState};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::env;
use crate::error::{CliError, Result};
use crate::secret::Secret;

const TOKEN_FIX: &str = "add `env: GITHUB_TOKEN: ${{ github.token }}` to the step";

/// The standard variables for reaching the GitHub API and reading the triggering event.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GitHubArgs {
    /// GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(
        long,
        env = env::GITHUB_API_URL,
        default_value = "https://api.github.com",
        value_name = "URL"
    )]
    pub github_api_url: String,
    /// The repository the workflow runs in.
    #[arg(long, env = env::GITHUB_REPOSITORY, value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// Token for the GitHub API (needs pull-requests: read and deployments: read).
    #[arg(
        long,
        env = env::GITHUB_TOKEN,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<Secret>,
    #[command(flatten)]
    pub event: EventArgs,
}

/// The triggering event, as the runner describes it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EventArgs {
    /// The triggering event's payload (JSON).
    #[arg(long, env = env::GITHUB_EVENT_PATH, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// The triggering event's name (`pull_request`, `deployment_status`, ...).
    #[arg(long, env = env::GITHUB_EVENT_NAME, value_name = "NAME")]
    pub event_name: Option<String>,
}

impl EventArgs {
    pub(crate) fn load(&self) -> Result<crate::event::Event> {
        crate::event::Event::load(self.event_path.as_deref(), self.event_name.as_deref())
    }
}

/// Why a GitHub request did not produce an answer.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Rate limited: try again after `wait`.
    RateLimited { wait: Duration, why: String },
    /// Network error or a 5xx: worth another try.
    Transient(String),
    /// The request cannot succeed as configured.
    Fatal(CliError),
}

#[derive(Debug)]
pub(crate) struct GitHub {
    octo: Octocrab,
    owner: String,
    name: String,
    authenticated: bool,
    /// Set when a response said the quota is used up: no request before this time.
    paused_until: Mutex<Option<SystemTime>>,
}

impl GitHub {
    pub(crate) fn new(args: &GitHubArgs) -> Result<Self> {
        let repository = env::required(
            args.repository.as_deref(),
            env::GITHUB_REPOSITORY,
            "run inside GitHub Actions or pass --repository OWNER/NAME",
        )?;
        let (owner, name) = split_repository(repository)?;
        let api_url = match args.github_api_url.trim().trim_end_matches('/') {
            // An empty variable (a typo'd `${{ }}` expression) means the default, like unset.
            "" => "https://api.github.com",
            url => url,
        };
        let mut builder = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|_| {
                CliError::config(format!("GITHUB_API_URL {api_url:?} is not a valid URL"))
            })?
            .add_header(
                reqwest::header::ACCEPT,
                "application/vnd.github+json".to_owned(),
            )
            .add_header(
                reqwest::header::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_owned(),
            )
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)));
        let token = args.github_token.as_ref().filter(|t| !t.is_empty());
        if let Some(token) = token {
            builder = builder.personal_token(token.expose().trim().to_owned());
        }
        let octo = builder.build().map_err(|err| {
            CliError::config(format!(
                "cannot build the GitHub client: {}",
                crate::error::chain(&err)
            ))
        })?;
        Ok(Self {
            octo,
            owner: owner.to_owned(),
            name: name.to_owned(),
            authenticated: token.is_some(),
            paused_until: Mutex::new(None),
        })
    }

    pub(crate) fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub(crate) fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// How long the quota says to wait before the next request, if it is used up.
    pub(crate) fn pause(&self) -> Option<Duration> {
        let until = (*self.paused_until.lock().ok()?)?;
        until.duration_since(SystemTime::now()).ok()
    }

    pub(crate) async fn pull_request(&self, number: u64) -> Result<PullRequest, ApiError> {
        self.get(&format!("pulls/{number}"), "pull-requests: read")
            .await
    }

    /// Deployments for one commit, newest first (optionally only one environment).
    pub(crate) async fn deployments(
        &self,
        sha: &str,
        environment: Option<&str>,
    ) -> Result<Vec<Deployment>, ApiError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("sha", sha).append_pair("per_page", "100");
        if let Some(environment) = environment {
            query.append_pair("environment", environment);
        }
        let mut deployments: Vec<Deployment> = self
            .get(
                &format!("deployments?{}", query.finish()),
                "deployments: read",
            )
            .await?;
        deployments.retain(|d| d.sha.eq_ignore_ascii_case(sha));
        if let Some(environment) = environment {
            deployments.retain(|d| d.environment == environment);
        }
        deployments.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.0.cmp(&a.id.0)));
        Ok(deployments)
    }

    /// The newest status of a deployment that says something about it among those `trusted`
    /// accepts (anyone with `deployments: write` can post one), and how many it dropped.
    ///
    /// `inactive` is skipped: GitHub adds it to every earlier deployment of an environment name when
    /// a newer one succeeds, and deploy bots share one name ("Preview") across branches, so another
    /// pull request's preview marks this one inactive while it still serves its URL.
    pub(crate) async fn latest_status(
        &self,
        deployment: &Deployment,
        trusted: impl Fn(&DeploymentStatus) -> bool,
    ) -> Result<(Option<DeploymentStatus>, usize), ApiError> {
        let all: Vec<DeploymentStatus> = self
            .get(
                &format!("deployments/{}/statuses?per_page=100", deployment.id.0),
                "deployments: read",
            )
            .await?;
        let (mut statuses, others): (Vec<_>, Vec<_>) = all.into_iter().partition(trusted);
        statuses.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.0.cmp(&a.id.0)));
        let effective = statuses
            .iter()
            .position(|s| s.state != DeploymentStatusState::Inactive)
            .unwrap_or(0);
        let newest = (!statuses.is_empty()).then(|| statuses.swap_remove(effective));
        Ok((newest, others.len()))
    }

    /// All comments on a pull request (at most 1,000; a deploy bot comments early and edits).
    pub(crate) async fn comments(&self, number: u64) -> Result<Vec<Comment>, ApiError> {
        const PER_PAGE: usize = 100;
        let mut all = Vec::new();
        for page in 1..=10 {
            let batch: Vec<Comment> = self
                .get(
                    &format!("issues/{number}/comments?per_page={PER_PAGE}&page={page}"),
                    "pull-requests: read",
                )
                .await?;
            let last = batch.len() < PER_PAGE;
            all.extend(batch);
            if last {
                break;
            }
        }
        Ok(all)
    }

    async fn get<T: DeserializeOwned>(&self, rest: &str, permission: &str) -> Result<T, ApiError> {
        let path = format!("/repos/{}/{}/{rest}", self.owner, self.name);
        let response = self.octo._get(path.as_str()).await.map_err(|err| {
            ApiError::Transient(format!("GET {path}: {}", crate::error::chain(&err)))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        self.note_quota(&headers);
        let body = self.octo.body_to_string(response).await.map_err(|err| {
            ApiError::Transient(format!("GET {path}: {}", crate::error::chain(&err)))
        })?;
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|err| {
                ApiError::Fatal(CliError::check(format!(
                    "GET {path}: unexpected answer from the GitHub API: {err}"
                )))
            });
        }
        Err(self.classify(&path, status.as_u16(), &headers, &body, permission))
    }

    fn note_quota(&self, headers: &HeaderMap) {
        if header_u64(headers, "x-ratelimit-remaining") == Some(0)
            && let Some(reset) = header_u64(headers, "x-ratelimit-reset")
            && let Ok(mut paused) = self.paused_until.lock()
        {
            *paused = Some(UNIX_EPOCH + Duration::from_secs(reset));
        }
    }

    fn classify(
        &self,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &str,
        permission: &str,
    ) -> ApiError {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        let message = crate::untrusted::text(&message);
        if (status == 403 || status == 429)
            && let Some(wait) = rate_limit_wait(headers, &message)
        {
            let why = format!("GitHub API rate limit (HTTP {status}: {message})");
            return ApiError::RateLimited { wait, why };
        }
        if status >= 500 {
            return ApiError::Transient(format!("GET {path}: HTTP {status} {message}"));
        }
        let repo = self.repository();
        let token_state = if self.authenticated {
            format!(
                "GITHUB_TOKEN needs `{permission}` on {repo}: add `permissions: {permission}` to the job"
            )
        } else {
            format!("GITHUB_TOKEN is not set: {TOKEN_FIX}")
        };
        let err = match status {
            401 => CliError::config(format!(
                "GitHub rejected GITHUB_TOKEN (HTTP 401: {message}): {TOKEN_FIX}"
            )),
            403 => CliError::config(format!("GET {path}: HTTP 403 ({message}): {token_state}")),
            404 => CliError::config(format!(
                "GET {path}: HTTP 404 ({message}): check GITHUB_REPOSITORY={repo} and the pull request number; \
                 a private repository also answers 404 when {token_state}"
            )),
            _ => CliError::check(format!("GET {path}: HTTP {status} ({message})")),
        };
        ApiError::Fatal(err)
    }
}

/// What a 403/429 says about when to try again: `Retry-After`, else the reset of an exhausted
/// quota, else a secondary limit's "wait a minute".
fn rate_limit_wait(headers: &HeaderMap, message: &str) -> Option<Duration> {
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Duration::from_secs(secs.max(1)));
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0)
        && let Some(reset) = header_u64(headers, "x-ratelimit-reset")
    {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    message
        .to_ascii_lowercase()
        .contains("rate limit")
        .then_some(Duration::from_secs(60))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn split_repository(repository: &str) -> Result<(&str, &str)> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match repository.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => Ok((owner, name)),
        _ => Err(CliError::config(format!(
            "GITHUB_REPOSITORY {repository:?} is not OWNER/NAME"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn repository_must_be_owner_slash_name() {
        assert_eq!(
            split_repository("octo-org/octo.repo").unwrap(),
            ("octo-org", "octo.repo")
        );
        for bad in ["octo", "a/b/c", "../x", "a/", "a b/c"] {
            assert!(split_repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limit_headers_decide_the_wait() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&headers, ""), Some(Duration::from_secs(7)));

        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        let wait = rate_limit_wait(&headers, "").unwrap();
        assert!((29..=31).contains(&wait.as_secs()), "{wait:?}");

        assert_eq!(
            rate_limit_wait(
                &HeaderMap::new(),
                "You have exceeded a secondary rate limit"
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_wait(&HeaderMap::new(), "Resource not accessible by integration"),
            None
        );
    }
}
