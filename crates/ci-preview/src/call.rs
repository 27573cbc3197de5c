//! `ci-preview call`: POSTs JSON to one CI endpoint with a fresh OIDC token.
//!
//! The audience comes from health's endpoint list (or `--audience`). A token is minted right before
//! *every* attempt: tokens live about five minutes and the preview may have taken fifteen to come
//! up. Network errors and 5xx answers are retried with backoff, a bounded number of times; a 4xx
//! never is, because the same request gets the same answer, and its explanation names the fix.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::actions;
use crate::error::{CliError, Result};
use crate::health::{Health, Observation, probe, snippet};
use crate::poll::{Backoff, short};
use crate::preview::{BypassArgs, Preview, describe_transport, http_client};
use crate::token::{IdTokenArgs, MintError, Minter};

/// The header the endpoints read the OIDC token from (`CONTRACT.md` §2).
pub const TOKEN_HEADER: &str = "x-github-oidc-token";
/// String values at least this long in an answer are masked in Actions logs.
const MASK_MIN_LEN: usize = 16;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Endpoint name as health lists it, e.g. flags/encrypt-override.
    #[arg(value_name = "ENDPOINT")]
    pub endpoint: String,
    /// The preview URL (from `ci-preview discover`).
    #[arg(long, env = "PREVIEW_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The JSON request body, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON")]
    pub data: String,
    /// Audience to mint the token for [default: the endpoint's audience from health].
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// Attempts for network errors and 5xx answers (4xx answers are never retried).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10), value_name = "N")]
    pub attempts: u32,
    #[command(flatten)]
    pub bypass: BypassArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
}

pub async fn run(args: Args) -> Result<()> {
    let preview = crate::wait::preview_from(args.url.as_deref(), &args.bypass)?;
    let body = parse_data(&args.data)?;
    let client = http_client()?;
    // Fail on missing token variables before any network traffic.
    let minter = Minter::new(&args.id_token, client.clone())?;
    let audience = match args
        .audience
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        Some(audience) => audience.to_owned(),
        None => audience_from_health(&client, &preview, &args.endpoint, None).await?,
    };
    let called = call_endpoint(
        &client,
        &preview,
        &minter,
        &args.endpoint,
        &audience,
        &body,
        args.attempts,
    )
    .await?;
    // An endpoint's answer is secret-derived by design (that is why it lives on the preview).
    mask_strings(&called.answer);
    println!("{}", called.answer);
    Ok(())
}

fn parse_data(data: &str) -> Result<Value> {
    let text = match data.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| CliError::config(format!("cannot read --data file {path}: {err}")))?,
        None => data.to_owned(),
    };
    serde_json::from_str(&text)
        .map_err(|err| CliError::config(format!("--data is not valid JSON: {err}")))
}

/// The endpoint's audience from health; `known` skips the request when the caller has health.
pub async fn audience_from_health(
    client: &reqwest::Client,
    preview: &Preview,
    endpoint: &str,
    known: Option<&Health>,
) -> Result<String> {
    let fetched;
    let health = match known {
        Some(health) => health,
        None => match probe(client, preview).await {
            Observation::Healthy(health) => {
                fetched = health;
                &fetched
            }
            other => {
                return Err(CliError::check(format!(
                    "cannot learn {endpoint}'s audience from {}: {}",
                    preview.health_url(),
                    other.describe()
                ))
                .with_hint("pass --audience to skip the health lookup"));
            }
        },
    };
    let info = health.endpoint(endpoint).ok_or_else(|| {
        CliError::check(format!(
            "{endpoint} is not served by {} (health lists: {})",
            preview.origin(),
            health.endpoint_names()
        ))
    })?;
    if !info.ready {
        return Err(CliError::check(format!(
            "{endpoint} is not ready on {}: its secret is missing from the deployment's environment \
             (health says ready: false); set it for the preview environment and redeploy",
            preview.origin()
        )));
    }
    Ok(info.audience.clone())
}

#[derive(Debug)]
pub struct Called {
    pub answer: Value,
    pub attempts: u32,
}

/// POSTs `body` to the endpoint, minting a fresh token before each attempt.
pub async fn call_endpoint(
    client: &reqwest::Client,
    preview: &Preview,
    minter: &Minter,
    endpoint: &str,
    audience: &str,
    body: &Value,
    attempts: u32,
) -> Result<Called> {
    let url = preview.endpoint_url(endpoint);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        if attempt > 1 {
            let delay = backoff.next_delay();
            actions::progress(&format!(
                "{last}; retrying in {} (attempt {attempt}/{attempts})",
                short(delay)
            ));
            tokio::time::sleep(delay).await;
        }
        let token = match minter.mint(audience).await {
            Ok(token) => token,
            Err(MintError::Transient(why)) => {
                last = format!("minting a token failed: {why}");
                continue;
            }
            Err(MintError::Fatal(err)) => return Err(err),
        };
        actions::mask(token.expose());
        let mut token_header = HeaderValue::from_str(token.expose())
            .map_err(|_| CliError::check("the minted token is not a valid header value"))?;
        token_header.set_sensitive(true);
        let sent = client
            .post(url.clone())
            .headers(preview.headers()?)
            .header(TOKEN_HEADER, token_header)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                last = format!("POST {url}: {}", describe_transport(&err));
                continue;
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => {
                last = format!(
                    "POST {url}: reading the answer: {}",
                    describe_transport(&err)
                );
                continue;
            }
        };
        if (200..300).contains(&status) {
            let answer = serde_json::from_slice(&bytes).map_err(|_| {
                CliError::check(format!("{endpoint} answered HTTP {status} but not JSON"))
            })?;
            actions::progress(&format!(
                "{endpoint} answered HTTP {status} (attempt {attempt})"
            ));
            return Ok(Called {
                answer,
                attempts: attempt,
            });
        }
        let error = error_code(&bytes);
        if status >= 500 && error.as_deref() != Some("misconfigured") {
            last = format!("{endpoint} answered HTTP {status}: {}", snippet(&bytes));
            continue;
        }
        return Err(explain(endpoint, audience, status, &bytes));
    }
    Err(CliError::check(format!(
        "{endpoint} failed after {attempts} attempts: {last}"
    )))
}

fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body).ok()?["error"]
        .as_str()
        .map(str::to_owned)
}

/// Turns a refusal into a message that names the likely fix.
pub fn explain(endpoint: &str, audience: &str, status: u16, body: &[u8]) -> CliError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let reason = json["reason"].as_str().unwrap_or_default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match status {
        401 => {
            let workflow = var("GITHUB_WORKFLOW_REF");
            let entry = workflow
                .as_deref()
                .map(|w| w.split('@').next().unwrap_or(w));
            let event = var("GITHUB_EVENT_NAME");
            CliError::check(format!("{endpoint} refused the token (HTTP 401 unauthorized)")).with_hint(format!(
                "The server logs which check failed. Likely causes:\n\
                 - audience mismatch: the token was minted for {audience:?}; the endpoint's `audience` in \
                 ci-policy.toml must be exactly that (drop --audience to use the one health reports);\n\
                 - workflow not allowlisted: add {:?} to the endpoint's `workflows` in ci-policy.toml \
                 (this run's workflow_ref: {});\n\
                 - event not allowed: this run's event is {} (pull_request_target, workflow_run and \
                 issue_comment need an explicit `events` entry);\n\
                 - a pinned repository_id/repository_owner_id that differs, or a runner clock over 60 s off.",
                entry.unwrap_or("OWNER/REPO/.github/workflows/FILE.yaml"),
                workflow.as_deref().unwrap_or("unknown"),
                event.as_deref().unwrap_or("unknown"),
            ))
        }
        403 if reason == "repo_mismatch" => CliError::check(format!(
            "{endpoint} refused this repository (HTTP 403 repo_mismatch): {} is not in the endpoint's \
             `repositories` in ci-policy.toml (runs from forks are refused by design)",
            var("GITHUB_REPOSITORY").unwrap_or_else(|| "this repository".to_owned())
        )),
        403 => CliError::check(format!(
            "{endpoint} answered HTTP 403 forbidden: {}",
            snippet(body)
        )),
        404 => CliError::check(format!(
            "{endpoint} answered HTTP 404: this deployment does not serve it (production, where CI routes \
             answer 404, or a deployment built before the endpoint existed)"
        )),
        413 => CliError::check(format!(
            "{endpoint} refused the body as too large (HTTP 413): send less data"
        )),
        400 if reason == "cookie_too_large" => CliError::check(format!(
            "{endpoint} refused the request (HTTP 400 cookie_too_large): the overrides would make a cookie \
             over 4096 bytes, which browsers drop; send fewer or shorter flags"
        )),
        400 => CliError::check(format!(
            "{endpoint} refused the request body (HTTP 400: {}): it must be a JSON object with the fields \
             the endpoint expects",
            snippet(body)
        )),
        500 if json["error"] == "misconfigured" => CliError::check(format!(
            "{endpoint} is misconfigured on the preview (HTTP 500): its secret is not set in the deployment's \
             environment; set it for the preview environment and redeploy"
        )),
        _ => CliError::check(format!(
            "{endpoint} answered HTTP {status}: {}",
            snippet(body)
        )),
    }
}

/// Masks every long string in an answer (cookies, tokens) before it is printed.
pub fn mask_strings(value: &Value) {
    match value {
        Value::String(text) if text.len() >= MASK_MIN_LEN => actions::mask(text),
        Value::Array(items) => items.iter().for_each(mask_strings),
        Value::Object(map) => map.values().for_each(mask_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_must_be_json() {
        assert!(parse_data(r#"{"flags":{}}"#).is_ok());
        let err = parse_data("{flags").unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Config);
    }

    #[test]
    fn explanations_name_the_fix() {
        let err = explain(
            "flags/encrypt-override",
            "aud",
            401,
            br#"{"error":"unauthorized"}"#,
        );
        let text = err.to_string();
        assert!(
            text.contains("audience mismatch") && text.contains("\"aud\""),
            "{text}"
        );
        assert!(text.contains("workflows"), "{text}");
        let err = explain(
            "x",
            "aud",
            403,
            br#"{"error":"forbidden","reason":"repo_mismatch"}"#,
        );
        assert!(err.message.contains("repositories"), "{}", err.message);
        let err = explain("x", "aud", 404, b"Not Found");
        assert!(err.message.contains("production"), "{}", err.message);
        let err = explain("x", "aud", 500, br#"{"error":"misconfigured"}"#);
        assert!(err.message.contains("secret is not set"), "{}", err.message);
    }
}
