//! Calling one CI endpoint: POST JSON with a fresh OIDC token (`call`, `smoke` and `flags`).
//!
//! The audience comes from `--audience` (which wins) or health's endpoint list. Health is
//! pull-request code, so an audience it announces is only minted for when it names the endpoint
//! being called on a host the client may trust: an `https` URL whose path is exactly
//! `/api/~/ci/<endpoint>` and whose host is the preview's own or one the user allowed
//! (`--allow-host`). Anything else (a cloud provider's audience, another endpoint, the same
//! endpoint of another app, which the preview could replay the token to) is refused before a
//! token exists.
//!
//! A token is minted right before every attempt that reaches the preview: tokens live about five
//! minutes and the preview may have taken fifteen to come up. Network errors and 5xx answers are
//! retried with backoff, at most [`MAX_ATTEMPTS`] times, so a failing preview collects at most that
//! many tokens; an attempt that never reached it (connection refused) keeps its token. A 5xx's
//! `Retry-After` is honoured (up to [`MAX_RETRY_AFTER`]): the endpoint sends it while a rotated
//! signing key is not fetchable yet. A 4xx is never retried: the same request gets the same
//! answer, and its explanation names the fix.
//!
//! A retry repeats the request, and a failure after the request was sent (a 500, a 502 or 504 from
//! an upstream or the platform, an answer lost on the way back) does not say whether the endpoint
//! acted: a `proxy/…` call may have created its upstream's object, `tokens/mint` minted, a cleanup
//! deleted. So such failures are retried only for endpoints that are safe to repeat: the cookie
//! endpoints ([`IDEMPOTENT_ENDPOINTS`]) and any the user names with `--idempotent`. Every endpoint
//! is retried when the request certainly did not act: it never reached the preview, Deployment
//! Protection stopped it, or the kit answered 503 `unavailable` ("not now": keys, replay or
//! key-value store, which an endpoint answers only when repeating is safe).

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{CliError, Result};
use crate::health::{Health, Observation, probe, snippet};
use crate::hosts::{AllowHosts, HostArgs};
use crate::http::describe_transport;
use crate::minter::{MintError, Minter};
use crate::poll::{Backoff, short};
use crate::preview::Preview;
use crate::secret::Secret;
use crate::{actions, env, untrusted};

mod audience;
mod explain;

use audience::{check_audience, check_audience_host};
use explain::explain;

/// The header the endpoints read the OIDC token from (`CONTRACT.md` §2).
pub(crate) const TOKEN_HEADER: &str = "x-github-oidc-token";
/// The most attempts (and so endpoint tokens) one call makes.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// A token minted for an attempt that never reached the preview is reused while younger than this.
const REUSE_UNSENT: Duration = Duration::from_secs(60);
/// The built-in endpoints whose calls are safe to repeat: each answers a cookie computed from
/// the request and changes nothing, so a retry after a failure that may have reached the handler
/// only issues another cookie.
pub(crate) const IDEMPOTENT_ENDPOINTS: [&str; 3] = [
    "flags/encrypt-override",
    "auth/encrypt-session",
    "vercel/protection-cookie",
];
/// The longest `Retry-After` the client waits for before its next attempt. The endpoint answers
/// 503 with `Retry-After` while its key store cannot fetch a rotated key (its refetch cooldown,
/// 60 s by default), so waiting that long turns a rotation into a slower call instead of a failed
/// job; a longer wait is shortened to this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(90);

/// How many times to try, and for which audience: shared by `call`, `smoke` and `flags`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallArgs {
    /// Audience to mint the endpoint's token for; wins over health. Pinning it removes the last
    /// choice a hostile preview has [default: the endpoint's audience from health, accepted only
    /// as https://HOST/api/~/ci/ENDPOINT with HOST the preview's own host or an --allow-host
    /// pattern].
    #[arg(long, env = env::CI_PREVIEW_AUDIENCE, value_name = "AUD")]
    pub audience: Option<String>,
    /// Attempts for network errors and 5xx answers, at most 5: waits 1 s, 2 s, 4 s, 8 s between
    /// them (longer when a 5xx says `Retry-After`, up to 90 s: the endpoint's key store after a
    /// signing-key rotation), and each attempt that reaches the preview carries one fresh token,
    /// so a failing preview gets at most N tokens (4xx answers are never retried).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=5), value_name = "N")]
    pub attempts: u32,
    /// Retry this endpoint also after failures it may have acted on (a 500, 502 or 504, an answer
    /// lost after the request was sent): only for an endpoint that is safe to repeat. Without it
    /// only flags/encrypt-override, auth/encrypt-session and vercel/protection-cookie are; any other
    /// endpoint (tokens/mint, proxy/…, cleanup/kv, your own) is retried only when its request
    /// certainly did nothing (not sent, stopped by Deployment Protection, 503 unavailable).
    #[arg(long, env = env::CI_PREVIEW_IDEMPOTENT)]
    pub idempotent: bool,
}

impl CallArgs {
    /// Whether `endpoint` may be retried after a failure it may have acted on.
    pub(crate) fn repeat_safe(&self, endpoint: &str) -> bool {
        self.idempotent || IDEMPOTENT_ENDPOINTS.contains(&endpoint)
    }

    /// The audience to mint for: `--audience` as given, else health's after [`check_audience`].
    pub(crate) async fn audience(
        &self,
        client: &reqwest::Client,
        preview: &Preview,
        endpoint: &str,
        known: Option<&Health>,
        hosts: &HostArgs,
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
                check_audience_host(preview, &AllowHosts::given(hosts)?, &announced)?;
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
    args: &CallArgs,
) -> Result<Called> {
    let url = preview.endpoint_url(endpoint);
    let attempts = args.attempts.clamp(1, MAX_ATTEMPTS);
    let repeat_safe = args.repeat_safe(endpoint);
    // A failure after which the endpoint may have acted ends the call unless repeating is safe.
    let may_have_acted = |last: &str, attempt: u32| {
        CliError::check(format!(
            "{last} (attempt {attempt}); not retried: {endpoint} may have acted on the request, \
             and a retry could do it again"
        ))
        .with_hint(
            "if repeating this endpoint's request is safe, pass --idempotent \
             (CI_PREVIEW_IDEMPOTENT=true) to retry such failures",
        )
    };
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
    let mut last = String::new();
    // A token whose request never reached the preview (it is still unseen by anyone).
    let mut unsent: Option<(Instant, Secret)> = None;
    // What the last 5xx asked for with `Retry-After`.
    let mut asked_wait = Duration::ZERO;
    for attempt in 1..=attempts {
        if attempt > 1 {
            let delay = backoff.next_delay().max(std::mem::take(&mut asked_wait));
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
                } else if !repeat_safe {
                    return Err(may_have_acted(&last, attempt));
                }
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
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
                if !repeat_safe {
                    return Err(may_have_acted(&last, attempt));
                }
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
            if let Some(wait) = retry_after {
                asked_wait = wait.min(MAX_RETRY_AFTER);
                last.push_str(&format!(" (Retry-After: {} s)", wait.as_secs()));
            }
            // The kit's 503 `unavailable` is "not now": nothing was done.
            let not_now = status == 503 && error.as_deref() == Some("unavailable");
            if !(repeat_safe || not_now) {
                return Err(may_have_acted(&last, attempt));
            }
            continue;
        }
        return Err(explain(endpoint, audience, status, &bytes));
    }
    Err(CliError::check(format!(
        "{endpoint} failed after {attempts} attempts: {last}"
    )))
}

/// A `Retry-After` in seconds (the endpoints never send the HTTP-date form).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
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
