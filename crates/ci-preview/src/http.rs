//! The one HTTP client the preview and the runner's token service are reached through.
//!
//! It never follows redirects: a redirect to a login page would carry the bypass header or the
//! OIDC token to another host. Timeouts are fixed so a stalled preview cannot hang a job.

use std::time::Duration;

use crate::error::{CliError, Result};

/// The HTTP client for the preview and the runner's token service.
pub(crate) fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("ci-preview/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|err| CliError::config(format!("cannot build the HTTP client: {err}")))
}

/// Describes a transport error briefly: "connection refused", "timed out", "could not resolve".
pub(crate) fn describe_transport(err: &reqwest::Error) -> String {
    let chain = crate::error::chain(err);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused".to_owned()
    } else if err.is_timeout() || lower.contains("timed out") {
        "timed out".to_owned()
    } else if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
        format!("could not resolve the host ({chain})")
    } else if err.is_connect() {
        format!("could not connect ({chain})")
    } else {
        chain
    }
}
