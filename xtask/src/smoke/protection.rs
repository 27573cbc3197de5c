//! The smoke's third endpoint, `vercel/protection-cookie`, behind ci-fixtures' emulated Vercel
//! edge: the client passes the edge with a Trusted Sources token (no secret in CI), the
//! deployment primes itself through the same edge with its VERCEL_AUTOMATION_BYPASS_SECRET, and
//! the cookie it hands back must let a plain request (a browser's) through the edge.

use ci_fixtures::MockIssuer;
use ci_fixtures::protection::{COOKIE_NAME, DeploymentProtection, EdgeBuilder, VercelEdge};
use serde_json::Value;

use super::ClientEnv;
use crate::flags::{Result, failed};

pub(super) const ENDPOINT: &str = "vercel/protection-cookie";
const AUDIENCE: &str = "https://ci-in-preview.smoke/api/~/ci/vercel/protection-cookie";
/// The Trusted Sources rule's audience (never an endpoint's).
pub(super) const PROTECTION_AUDIENCE: &str = "https://ci-in-preview.smoke/vercel-trusted-sources";

/// The endpoint's section of the smoke policy.
pub(super) fn policy_entry() -> String {
    format!("\n{}", ci_fixtures::policy_entry(ENDPOINT, AUDIENCE))
}

/// The edge for a project whose bypass secret is `secret` and whose Trusted Sources rule
/// trusts `issuer` (not yet forwarding anywhere).
pub(super) fn edge(issuer: &MockIssuer, secret: &str) -> EdgeBuilder {
    let protection = DeploymentProtection::new()
        .with_bypass(secret)
        .with_trusted_source(issuer, PROTECTION_AUDIENCE);
    VercelEdge::builder(protection)
}

/// A listener for the edge and its URL: bound before the deployment starts, which must know it
/// (`CI_PREVIEW_SELF_URL`).
pub(super) async fn bind_edge() -> Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| failed(format!("cannot bind 127.0.0.1:0: {e}")))?;
    let address = listener.local_addr().map_err(|e| failed(e.to_string()))?;
    Ok((listener, format!("http://{address}")))
}

/// `ci-preview call vercel/protection-cookie` through the edge with `--protection oidc`, then
/// [`check_answer`].
pub(super) async fn call_and_check(
    client: &ClientEnv<'_>,
    edge: &VercelEdge,
    http: &reqwest::Client,
) -> Result {
    let out = client
        .run(&[
            "call",
            ENDPOINT,
            "--url",
            edge.url(),
            "--data",
            "{}",
            "--protection",
            "oidc",
            "--protection-audience",
            PROTECTION_AUDIENCE,
        ])
        .await?;
    check_answer(&out, edge, http).await
}

/// Checks `ci-preview call`'s answer: a `_vercel_jwt` cookie for the edge's host that opens the
/// edge for a request carrying nothing else, which is refused without it.
async fn check_answer(out: &str, edge: &VercelEdge, http: &reqwest::Client) -> Result {
    let answer: Value = serde_json::from_str(out.trim())
        .map_err(|e| failed(format!("call printed no JSON ({e}): {out}")))?;
    let cookie = &answer["cookie"];
    let (Some(name), Some(value)) = (cookie["name"].as_str(), cookie["value"].as_str()) else {
        return Err(failed("the answer holds no cookie"));
    };
    if name != COOKIE_NAME || cookie["domain"] != "127.0.0.1" || cookie["httpOnly"] != true {
        return Err(failed(format!(
            "unexpected cookie {name} for {}",
            cookie["domain"]
        )));
    }
    let page = format!("{}/api/~/ci/health", edge.url());
    let status = |request: reqwest::RequestBuilder| async move {
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| failed(e.to_string()))
    };
    let without = status(http.get(&page)).await?;
    let with = status(http.get(&page).header("cookie", format!("{name}={value}"))).await?;
    if (without, with) != (401, 200) {
        return Err(failed(format!(
            "the edge answered {without} without the cookie and {with} with it (want 401, 200)"
        )));
    }
    Ok(())
}
