//! The mock's two responders: the runner's token service and the REST routes, both answering
//! from the state a test sets up through [`super::MockGitHub`].

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::{
    ApiFault, BASE_SHA, GITHUB_TOKEN, MERGE_SHA, Mint, REQUEST_TOKEN, Shared, State, shapes,
};
use crate::token::{TokenBuilder, now};
use crate::{DEFAULT_OWNER_ID, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID};

fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_string(body.to_string())
}

/// The runner's token service: checks the bearer, mints for the requested audience.
pub(super) struct TokenEndpoint(pub(super) Arc<Shared>);

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && token == REQUEST_TOKEN
            });
        if !authorized {
            return json_response(
                401,
                &json!({"message": "Unauthorized: bad or missing bearer"}),
            );
        }
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if query("api-version").is_none() {
            return json_response(400, &json!({"message": "api-version is required"}));
        }
        let mut state = self.0.state();
        if let Some(status) = state.token_faults.pop_front() {
            return json_response(status, &json!({"message": "injected failure"}));
        }
        let audience =
            query("audience").unwrap_or_else(|| "https://github.com/octo-org".to_owned());
        let mut builder = TokenBuilder::new(&state.issuer_url, &audience, Arc::clone(&state.key));
        if let Some(customize) = &state.customize {
            builder = customize(builder);
        }
        let issued_at = builder
            .claims()
            .get("iat")
            .and_then(Value::as_i64)
            .unwrap_or_else(now);
        let token = builder.build();
        state.mints.push(Mint {
            audience,
            issued_at,
            at: SystemTime::now(),
            token: token.clone(),
        });
        json_response(200, &json!({ "value": token }))
    }
}

/// The REST routes, answered from the shared state.
pub(super) struct RestApi(pub(super) Arc<Shared>);

impl Respond for RestApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.state();
        let path = request.url.path().to_owned();
        let query = request
            .url
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        state.requests.push(format!("{path}{query}"));
        state.remaining = state.remaining.saturating_sub(1);
        let reset = now() + 3_600;
        let (remaining, used) = (state.remaining, 5_000 - state.remaining);
        let with_quota = |response: ResponseTemplate, remaining: u64, reset: i64| {
            response
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .insert_header("x-ratelimit-used", used.to_string().as_str())
                .insert_header("x-ratelimit-resource", "core")
                .insert_header("x-github-api-version-selected", "2022-11-28")
        };
        if let Some(fault) = state.api_faults.pop_front() {
            return match fault {
                ApiFault::RetryAfter(secs) => with_quota(
                    json_response(
                        429,
                        &shapes::error("You have exceeded a secondary rate limit.", 429),
                    ),
                    remaining,
                    reset,
                )
                .insert_header("retry-after", secs.to_string().as_str()),
                ApiFault::QuotaExhausted(secs) => with_quota(
                    json_response(
                        403,
                        &shapes::error("API rate limit exceeded for installation.", 403),
                    ),
                    0,
                    now() + secs as i64,
                ),
                ApiFault::Status(status, message) => with_quota(
                    json_response(status, &shapes::error(&message, status)),
                    remaining,
                    reset,
                ),
            };
        }
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if let Some(auth) = auth
            && !auth.ends_with(GITHUB_TOKEN)
        {
            return with_quota(
                json_response(401, &shapes::error("Bad credentials", 401)),
                remaining,
                reset,
            );
        }
        let (status, body) = route(&self.0.api, &state, &path, request);
        with_quota(json_response(status, &body), remaining, reset)
    }
}

fn route(api: &str, state: &State, path: &str, request: &Request) -> (u16, Value) {
    let not_found = (404, shapes::error("Not Found", 404));
    let Some(rest) = path.strip_prefix(&format!("/repos/{DEFAULT_REPOSITORY}/")) else {
        return not_found;
    };
    let query = |name: &str| {
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let page = |items: Vec<Value>| -> Value {
        let per_page = query("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30usize)
            .clamp(1, 100);
        let page = query("page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        Value::Array(
            items
                .into_iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .collect(),
        )
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments[..] {
        ["pulls", number] => {
            let Some((n, head, head_ref)) = number
                .parse::<u64>()
                .ok()
                .and_then(|n| state.pulls.iter().find(|p| p.0 == n))
            else {
                return not_found;
            };
            let spec = shapes::PullSpec {
                api,
                full_name: DEFAULT_REPOSITORY,
                repository_id: DEFAULT_REPOSITORY_ID.parse().unwrap_or(1),
                owner_id: DEFAULT_OWNER_ID.parse().unwrap_or(1),
                number: *n,
                head_sha: head,
                head_ref,
                base_sha: BASE_SHA,
                merge_sha: MERGE_SHA,
                created_at: now() - 3_600,
            };
            (200, shapes::pull_request(&spec))
        }
        ["deployments"] => {
            let filter =
                |field: &str, d: &Value| query(field).is_none_or(|want| d[field] == want.as_str());
            let mut found: Vec<Value> = state
                .deployments
                .iter()
                .filter(|d| {
                    filter("sha", d)
                        && filter("ref", d)
                        && filter("environment", d)
                        && filter("task", d)
                })
                .cloned()
                .collect();
            found.reverse(); // newest first, as GitHub lists them
            (200, page(found))
        }
        ["deployments", id, "statuses"] => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found;
            };
            if !state.deployments.iter().any(|d| d["id"] == id) {
                return not_found;
            }
            let mut found: Vec<Value> = state
                .statuses
                .iter()
                .filter(|(d, _)| *d == id)
                .map(|(_, s)| s.clone())
                .collect();
            found.reverse();
            (200, page(found))
        }
        ["issues", number, "comments"] => {
            let Ok(number) = number.parse::<u64>() else {
                return not_found;
            };
            let found = state
                .comments
                .iter()
                .filter(|(n, _)| *n == number)
                .map(|(_, c)| c.clone())
                .collect();
            (200, page(found))
        }
        _ => not_found,
    }
}
