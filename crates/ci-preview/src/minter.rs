//! Mints GitHub Actions OIDC tokens from the runner's token service.
//!
//! The runner hands every job with `permissions: id-token: write` two variables: a URL (with a
//! query string already) and a bearer for it. A token is `GET $URL&audience=AUD`, answered with
//! `{"value": "<JWT>"}`. Tokens live about five minutes, so `call` and `smoke` mint a fresh one
//! right before every request instead of minting once at the start, and protection tokens
//! (`crate::protection`) come from the same [`Minter`].

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::Deserialize;

use crate::error::{CliError, Result};
use crate::http::describe_transport;
use crate::poll::Backoff;
use crate::secret::Secret;
use crate::{actions, env};

const PERMISSION_FIX: &str = "add `permissions: id-token: write` to the job \
     (pull requests from forks never get an OIDC token)";

/// Where tokens come from: set by the runner, never typed by hand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IdTokenArgs {
    /// The runner's OIDC token service (set by the runner when the job may mint tokens).
    #[arg(
        long,
        env = env::ACTIONS_ID_TOKEN_REQUEST_URL,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub id_token_request_url: Option<String>,
    /// Bearer for the token service (set by the runner alongside the URL).
    #[arg(
        long,
        env = env::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub id_token_request_token: Option<Secret>,
}

/// A failed mint: worth retrying (network, 5xx, 429) or not (the runner refused).
#[derive(Debug)]
pub(crate) enum MintError {
    Transient(String),
    Fatal(CliError),
}

impl From<MintError> for CliError {
    fn from(err: MintError) -> Self {
        match err {
            MintError::Transient(why) => {
                CliError::check(format!("could not mint an OIDC token: {why}"))
            }
            MintError::Fatal(err) => err,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Minter {
    client: reqwest::Client,
    url: String,
    bearer: Secret,
}

#[derive(Deserialize)]
struct TokenAnswer {
    value: Option<String>,
}

impl Minter {
    /// A minter when the job can mint tokens (both runner variables set), for `--protection auto`.
    pub(crate) fn available(args: &IdTokenArgs, client: reqwest::Client) -> Option<Self> {
        let set = args
            .id_token_request_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
            && args
                .id_token_request_token
                .as_ref()
                .is_some_and(|t| !t.is_empty());
        set.then(|| Self::new(args, client).ok()).flatten()
    }

    #[cfg(test)]
    pub(crate) fn for_tests(url: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: url.to_owned(),
            bearer: Secret::new("b"),
        }
    }

    /// Checks the variables up front, so a job that cannot mint fails before it waits 15 minutes.
    pub(crate) fn new(args: &IdTokenArgs, client: reqwest::Client) -> Result<Self> {
        let url = env::required(
            args.id_token_request_url.as_deref(),
            env::ACTIONS_ID_TOKEN_REQUEST_URL,
            PERMISSION_FIX,
        )?;
        let bearer = args
            .id_token_request_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CliError::missing_var(env::ACTIONS_ID_TOKEN_REQUEST_TOKEN, PERMISSION_FIX)
            })?;
        Ok(Self {
            client,
            url: url.to_owned(),
            bearer,
        })
    }

    fn request_url(&self, audience: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(audience.as_bytes()).collect();
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}audience={encoded}", self.url)
    }

    /// One request to the token service.
    pub(crate) async fn mint(&self, audience: &str) -> Result<Secret, MintError> {
        let mut auth = HeaderValue::from_str(&format!("bearer {}", self.bearer.expose().trim()))
            .map_err(|_| {
                MintError::Fatal(CliError::config(
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN contains characters a header cannot carry",
                ))
            })?;
        auth.set_sensitive(true);
        let response = self
            .client
            .get(self.request_url(audience))
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| MintError::Transient(describe_transport(&err)))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(MintError::Transient(format!(
                "the token service answered HTTP {status}"
            )));
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(MintError::Fatal(CliError::config(format!(
                "the runner's token service refused the request (HTTP {}): {PERMISSION_FIX}",
                status.as_u16()
            ))));
        }
        if !status.is_success() {
            return Err(MintError::Fatal(CliError::check(format!(
                "the runner's token service answered HTTP {} for audience {audience:?}",
                status.as_u16()
            ))));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| MintError::Transient(describe_transport(&err)))?;
        let value = serde_json::from_slice::<TokenAnswer>(&body)
            .ok()
            .and_then(|answer| answer.value)
            .filter(|v| v.split('.').count() == 3 && !v.trim().is_empty())
            .ok_or_else(|| {
                MintError::Fatal(CliError::check(
                    "the runner's token service answered without a token (expected {\"value\": \"<JWT>\"})",
                ))
            })?;
        Ok(Secret::new(value))
    }

    /// [`Minter::mint`] with a few quick retries for transient failures (used by `ci-preview token`).
    pub(crate) async fn mint_with_retries(&self, audience: &str) -> Result<Secret> {
        const ATTEMPTS: u32 = 3;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let mut attempt = 1;
        loop {
            match self.mint(audience).await {
                Ok(token) => return Ok(token),
                Err(MintError::Transient(why)) if attempt < ATTEMPTS => {
                    let delay = backoff.next_delay();
                    actions::progress(&format!(
                        "minting a token failed ({why}); retrying in {}s",
                        delay.as_secs()
                    ));
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minter(url: &str) -> Minter {
        Minter::for_tests(url)
    }

    #[test]
    fn appends_the_url_encoded_audience() {
        let m = minter("https://runner/idtoken?api-version=2.0");
        assert_eq!(
            m.request_url("https://v0.app/api/~/ci/flags/encrypt-override"),
            "https://runner/idtoken?api-version=2.0&audience=https%3A%2F%2Fv0.app%2Fapi%2F%7E%2Fci%2Fflags%2Fencrypt-override"
        );
        assert_eq!(
            minter("https://runner/idtoken").request_url("a b"),
            "https://runner/idtoken?audience=a+b"
        );
    }

    #[test]
    fn missing_variables_name_the_permission() {
        let args = IdTokenArgs {
            id_token_request_url: None,
            id_token_request_token: None,
        };
        let err = Minter::new(&args, reqwest::Client::new()).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Config);
        assert!(err.message.starts_with(
            "ACTIONS_ID_TOKEN_REQUEST_URL is not set: add `permissions: id-token: write` to the job"
        ));
        let args = IdTokenArgs {
            id_token_request_url: Some("https://runner/x?a=1".into()),
            id_token_request_token: None,
        };
        let err = Minter::new(&args, reqwest::Client::new()).unwrap_err();
        assert!(
            err.message
                .starts_with("ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set")
        );
    }
}
