//! The smoke's stealth server (`stealth = true`) and its audit lines: a scanner's requests all
//! get the unknown path's answer, a verified client still gets its cookie, and every authorized
//! call of the run left one audit line naming the caller (`system-docs/CONTRACT.md` §4, §6).

use ci_fixtures::MockIssuer;
use serde_json::json;

use super::{AUDIENCE, ClientEnv, ENDPOINT};
use crate::flags::{Result, failed};
use crate::steps::Steps;

/// The audit line's fields besides the claims it carries (`ci_fixtures::AUDIT_CLAIM_FIELDS`).
const AUDIT_OWN_FIELDS: [&str; 3] = ["endpoint", "result", "jti_sha256"];

/// `policy` with stealth mode switched on.
pub(crate) fn stealth_policy(policy: &str) -> String {
    format!("stealth = true\n{policy}")
}

/// What a scanner sees: status, the headers that are not per-response, and the body.
async fn seen(request: reqwest::RequestBuilder) -> Result<String> {
    let response = request.send().await.map_err(|e| failed(e.to_string()))?;
    let status = response.status().as_u16();
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
        .collect();
    headers.sort();
    let body = response.text().await.unwrap_or_default();
    Ok(format!("{status} {headers:?} {body}"))
}

/// Every unverified request to the stealth server answers like a path that does not exist.
pub(crate) async fn check_unverified(
    http: &reqwest::Client,
    url: &str,
    endpoint: &str,
    audience: &str,
    issuer: &MockIssuer,
) -> Result {
    let endpoint_url = format!("{url}/api/~/ci/{endpoint}");
    let body = r#"{"flags":{"a":true}}"#;
    let reference = seen(http.get(format!("{url}/api/~/ci/no/such/endpoint"))).await?;
    if !reference.starts_with("404 ") || !reference.ends_with("Not Found") {
        return Err(failed(format!("an unknown path answered {reference}")));
    }
    let probes = [
        ("health", http.get(format!("{url}/api/~/ci/health"))),
        ("no token", http.post(&endpoint_url).body(body)),
        (
            "another audience",
            http.post(&endpoint_url)
                .header(
                    "x-github-oidc-token",
                    issuer.token("https://elsewhere.test/x").build(),
                )
                .body(body),
        ),
        (
            "another repository",
            http.post(&endpoint_url)
                .header(
                    "x-github-oidc-token",
                    issuer
                        .token(audience)
                        .claim("repository", "someone/else")
                        .build(),
                )
                .body(body),
        ),
        ("wrong method", http.get(&endpoint_url)),
    ];
    for (name, probe) in probes {
        let answer = seen(probe).await?;
        if answer != reference {
            return Err(failed(format!(
                "{name}: {answer}\n differs from the unknown path's {reference}"
            )));
        }
    }
    Ok(())
}

/// One audit line per authorized call in `logs` (text format), `calls` of them with
/// `result="ok"`, each with every field, none holding a token.
pub(crate) fn check_audit_lines<'a>(
    logs: &str,
    calls: usize,
    tokens: impl Iterator<Item = &'a str>,
) -> Result {
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" ci_audit: audit "))
        .collect();
    let ok = lines
        .iter()
        .filter(|l| l.contains(" result=\"ok\""))
        .count();
    if ok != calls {
        return Err(failed(format!(
            "{ok} audit lines with result=\"ok\" for {calls} authorized calls:\n{}",
            lines.join("\n")
        )));
    }
    for line in &lines {
        let fields = line.split(" ci_audit: audit ").nth(1).unwrap_or_default();
        for field in AUDIT_OWN_FIELDS
            .into_iter()
            .chain(ci_fixtures::AUDIT_CLAIM_FIELDS)
        {
            if !fields.contains(&format!("{field}=")) {
                return Err(failed(format!("the audit line has no {field}: {line}")));
            }
        }
    }
    for token in tokens {
        if let Some(signature) = token.rsplit('.').next()
            && lines.iter().any(|l| l.contains(signature))
        {
            return Err(failed("a token appears in an audit line"));
        }
    }
    Ok(())
}

/// The stealth server's steps: a scanner sees only 404s, a client with the pinned audience gets
/// its cookie, and a refused client is told the preview may be in stealth mode. Failures are
/// recorded in `steps` and the run goes on.
pub(crate) async fn check_server(
    steps: &mut Steps,
    http: &reqwest::Client,
    url: &str,
    issuer: &MockIssuer,
    client: &ClientEnv<'_>,
) {
    let _ = steps
        .run_async(
            "stealth: every unverified request is the unknown path's 404",
            async { check_unverified(http, url, ENDPOINT, AUDIENCE, issuer).await },
        )
        .await;
    let _ = steps
        .run_async(
            "stealth: client call with --audience gets the cookie",
            async {
                let data = json!({ "flags": {"stealth": true} }).to_string();
                let args = [
                    "call",
                    ENDPOINT,
                    "--url",
                    url,
                    "--audience",
                    AUDIENCE,
                    "--data",
                    &data,
                ];
                let out = client.run(&args).await?;
                if !out.contains("\"cookie\"") {
                    return Err(failed(format!("no cookie from the stealth server: {out}")));
                }
                Ok(())
            },
        )
        .await;
    let _ = steps
        .run_async(
            "stealth: a refused client is told about stealth mode",
            async {
                let other = "https://ci-in-preview.smoke/api/~/ci/other/endpoint";
                let args = [
                    "call",
                    ENDPOINT,
                    "--url",
                    url,
                    "--audience",
                    other,
                    "--data",
                    "{}",
                ];
                match client.run(&args).await {
                    Ok(out) => Err(failed(format!(
                        "the stealth server accepted another audience: {out}"
                    ))),
                    Err(e) if e.to_string().contains("stealth mode") => Ok(()),
                    Err(e) => Err(failed(format!("no mention of stealth mode: {e}"))),
                }
            },
        )
        .await;
}
