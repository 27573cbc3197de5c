//! Calling one CI endpoint: POST JSON with a fresh OIDC token (`call`, `smoke` and `flags`).
//!
//! The audience comes from `--audience` (which wins) or health's endpoint list. Health is
//! pull-request code, so an audience it announces is only minted for when it names the endpoint
//! being called: an `https` URL whose path is exactly `/api/~/ci/<endpoint>`. Anything else (a
//! cloud provider's audience, another endpoint) is refused before a token exists.
//!
//! A token is minted right before every attempt that reaches the preview: tokens live about five
//! minutes and the preview may have taken fifteen to come up. Network errors and 5xx answers are
//! retried with backoff, at most [`MAX_ATTEMPTS`] times, so a failing preview collects at most that
//! many tokens; an attempt that never reached it (connection refused) keeps its token. A 4xx is
//! never retried: the same request gets the same answer, and its explanation names the fix.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{CliError, Result};
use crate::health::{Health, Observation, probe, snippet};
use crate::http::describe_transport;
use crate::minter::{MintError, Minter};
use crate::poll::{Backoff, short};
use crate::preview::{CI_PREFIX, Preview};
use crate::secret::Secret;
use crate::{actions, env, untrusted};

mod explain;

use explain::explain;

/// The header the endpoints read the OIDC token from (`CONTRACT.md` §2).
pub(crate) const TOKEN_HEADER: &str = "x-github-oidc-token";
/// The most attempts (and so endpoint tokens) one call makes.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// A token minted for an attempt that never reached the preview is reused while younger than this.
const REUSE_UNSENT: Duration = Duration::from_secs(60);

/// How many times to try, and for which audience: shared by `call`, `smoke` and `flags`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallArgs {
    /// Audience to mint the endpoint's token for; wins over health. Pinning it removes the last
    /// choice a hostile preview has [default: the endpoint's audience from health, accepted only
    /// as https://…/api/~/ci/ENDPOINT].
    #[arg(long, env = env::CI_PREVIEW_AUDIENCE, value_name = "AUD")]
    pub audience: Option<String>,
    /// Attempts for network errors and 5xx answers, at most 5: waits 1 s, 2 s, 4 s, 8 s between
    /// them, and each attempt that reaches the preview carries one fresh token, so a failing
    /// preview gets at most N tokens (4xx answers are never retried).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=5), value_name = "N")]
    pub attempts: u32,
}

impl CallArgs {
    /// The audience to mint for: `--audience` as given, else health's after [`check_audience`].
    pub(crate) async fn audience(
        &self,
        client: &reqwest::Client,
        preview: &Preview,
        endpoint: &str,
        known: Option<&Health>,
    ) -> Result<String> {
        let audience = match self
            .audience
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            Some(audience) => audience.to_owned(),
            None => {
                let announced = audience_from_health(client, preview, endpoint, known).await?;
                check_audience(endpoint, &announced)?;
                announced
            }
        };
        if preview.guard().oidc_audience() == Some(audience.as_str()) {
            return Err(CliError::config(format!(
                "the endpoint audience {audience:?} equals the protection audience: Deployment \
                 Protection would accept the endpoint's token and the endpoint the protection token; \
                 give the Trusted Sources rule its own audience (--protection-audience)"
            )));
        }
        Ok(audience)
    }
}

/// Health may only name the endpoint itself: `https://ORIGIN/api/~/ci/ENDPOINT`, nothing more.
pub(crate) fn check_audience(endpoint: &str, audience: &str) -> Result<()> {
    let endpoint = endpoint.trim_matches('/');
    let expected_path = format!("{CI_PREFIX}/{endpoint}");
    let fits = url::Url::parse(audience).is_ok_and(|url| {
        url.scheme() == "https"
            && url.as_str() == audience
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.path() == expected_path
    });
    if fits {
        return Ok(());
    }
    Err(CliError::check(format!(
        "refusing to mint a token for the audience {} that the preview's health announces for \
         {endpoint}: an endpoint's audience must be an https URL whose path is exactly \
         {expected_path}. Pin the audience the endpoint's policy expects with --audience \
         (CI_PREVIEW_AUDIENCE)",
        untrusted::text(audience)
    )))
}

/// String values at least this long in an answer are masked in Actions logs.
const MASK_MIN_LEN: usize = 16;

/// The endpoint's audience from health; `known` skips the request when the caller has health.
pub(crate) async fn audience_from_health(
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
            "{} is not served by {} (health lists: {})",
            untrusted::text(endpoint),
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
pub(crate) struct Called {
    pub answer: Value,
    pub attempts: u32,
}

/// POSTs `body` to the endpoint, with a fresh token for each attempt that reaches it.
pub(crate) async fn call_endpoint(
    client: &reqwest::Client,
    preview: &Preview,
    minter: &Minter,
    endpoint: &str,
    audience: &str,
    body: &Value,
    attempts: u32,
) -> Result<Called> {
    let url = preview.endpoint_url(endpoint);
    let attempts = attempts.clamp(1, MAX_ATTEMPTS);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
    let mut last = String::new();
    // A token whose request never reached the preview (it is still unseen by anyone).
    let mut unsent: Option<(Instant, Secret)> = None;
    for attempt in 1..=attempts {
        if attempt > 1 {
            let delay = backoff.next_delay();
            actions::progress(&format!(
                "{last}; retrying in {} (attempt {attempt}/{attempts})",
                short(delay)
            ));
            tokio::time::sleep(delay).await;
        }
        let token = match unsent.take() {
            Some((at, token)) if at.elapsed() < REUSE_UNSENT => token,
            _ => match minter.mint(audience).await {
                Ok(token) => token,
                Err(MintError::Transient(why)) => {
                    last = format!("minting a token failed: {why}");
                    continue;
                }
                Err(MintError::Fatal(err)) => return Err(err),
            },
        };
        let minted_at = Instant::now();
        actions::mask(token.expose());
        let mut token_header = HeaderValue::from_str(token.expose())
            .map_err(|_| CliError::check("the minted token is not a valid header value"))?;
        token_header.set_sensitive(true);
        let sent = client
            .post(url.clone())
            .headers(preview.headers().await?)
            .header(TOKEN_HEADER, token_header)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                last = format!("POST {url}: {}", describe_transport(&err));
                if err.is_connect() {
                    unsent = Some((minted_at, token));
                }
                continue;
            }
        };
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
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
        // `--protection auto`: the edge, not the endpoint (whose refusals are JSON), stopped it.
        if error_code(&bytes).is_none() && preview.guard().arm_after(status, location.as_deref()) {
            last = format!("{endpoint}: Deployment Protection answered HTTP {status}");
            continue;
        }
        if (200..300).contains(&status) {
            let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
                CliError::check(format!("{endpoint} answered HTTP {status} but not JSON"))
            })?;
            // Secret-derived by design: masked before anything else can print it.
            mask_strings(&answer);
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

/// Masks every long string in an answer (cookies, tokens) before it is printed.
pub(crate) fn mask_strings(value: &Value) {
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
    fn only_the_endpoints_own_audience_is_minted_from_health() {
        let endpoint = "flags/encrypt-override";
        for good in [
            "https://v0.app/api/~/ci/flags/encrypt-override",
            "https://preview-x.vercel.app:8443/api/~/ci/flags/encrypt-override",
        ] {
            assert!(check_audience(endpoint, good).is_ok(), "{good}");
        }
        for bad in [
            "sts.amazonaws.com",
            "https://github.com/octo-org",
            "api://AzureADTokenExchange",
            "http://v0.app/api/~/ci/flags/encrypt-override",
            "https://v0.app/api/~/ci/flags/other",
            "https://v0.app/api/~/ci/flags/encrypt-override/x",
            "https://v0.app/api/~/ci/flags/encrypt-override?x=1",
            "https://v0.app/api/~/ci/flags/../flags/encrypt-override",
            "https://u@v0.app/api/~/ci/flags/encrypt-override",
            "HTTPS://V0.APP/api/~/ci/flags/encrypt-override",
        ] {
            let err = check_audience(endpoint, bad).unwrap_err();
            assert!(err.message.contains("--audience"), "{bad}: {}", err.message);
        }
    }
}
