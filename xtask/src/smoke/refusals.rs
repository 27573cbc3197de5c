//! The attacks and mistakes the smoke run sends to the real server, with the exact answer each
//! must get (`CONTRACT.md` §2). One table so that adding a case is one row.

use ci_fixtures::{MockIssuer, TokenBuilder};

use super::{AUDIENCE, ENDPOINT};
use crate::flags::{Result, failed};

/// One request and the answer the contract demands for it.
pub(super) struct Refusal {
    pub name: &'static str,
    /// `None` sends no `x-github-oidc-token` header at all.
    pub token: Option<String>,
    pub body: Vec<u8>,
    pub status: u16,
    pub answer: &'static str,
}

const UNAUTHORIZED: &str = r#"{"error":"unauthorized"}"#;
const BAD_REQUEST: &str = r#"{"error":"bad_request"}"#;

/// The refusal table for a server whose endpoint expects `audience`.
pub(super) fn table(issuer: &MockIssuer, audience: &str) -> Vec<Refusal> {
    let token = |f: fn(TokenBuilder) -> TokenBuilder| Some(f(issuer.token(audience)).build());
    let good = r#"{"flags":{"ciInPreviewSmoke":true}}"#.as_bytes().to_vec();
    let unauthorized = |name, token| Refusal {
        name,
        token,
        body: good.clone(),
        status: 401,
        answer: UNAUTHORIZED,
    };
    let bad_body = |name, body: &str| Refusal {
        name,
        token: Some(issuer.token(audience).build()),
        body: body.as_bytes().to_vec(),
        status: 400,
        answer: BAD_REQUEST,
    };
    vec![
        unauthorized("refuse: no token header", None),
        unauthorized(
            "refuse: token for another audience",
            Some(
                issuer
                    .token("https://elsewhere.example/api/~/ci/flags/encrypt-override")
                    .build(),
            ),
        ),
        Refusal {
            name: "refuse: another repository (403)",
            token: token(|t| t.claim("repository", "attacker/fork")),
            body: good.clone(),
            status: 403,
            answer: r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
        },
        unauthorized(
            "refuse: workflow not allowlisted",
            token(|t| {
                t.workflow(
                    "octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml-evil.yaml",
                )
            }),
        ),
        unauthorized("refuse: expired token", token(TokenBuilder::expired)),
        unauthorized(
            "refuse: pull_request_target event",
            token(|t| t.event("pull_request_target")),
        ),
        unauthorized(
            "refuse: signed by a foreign key",
            token(TokenBuilder::sign_with_foreign_key),
        ),
        bad_body("refuse: body not JSON", "{not json"),
        bad_body("refuse: no flags", r#"{"overrides":{}}"#),
        bad_body("refuse: flags is an array", r#"{"flags":["a"]}"#),
        bad_body("refuse: flags is null", r#"{"flags":null}"#),
        Refusal {
            name: "refuse: body over 64 KiB (413)",
            token: Some(issuer.token(audience).build()),
            body: oversized_body(),
            status: 413,
            answer: r#"{"error":"payload_too_large"}"#,
        },
        Refusal {
            name: "refuse: cookie over 4096 bytes",
            token: Some(issuer.token(audience).build()),
            body: format!(r#"{{"flags":{{"big":"{}"}}}}"#, "x".repeat(4000)).into_bytes(),
            status: 400,
            answer: r#"{"error":"bad_request","reason":"cookie_too_large"}"#,
        },
    ]
}

fn oversized_body() -> Vec<u8> {
    format!(r#"{{"flags":{{"pad":"{}"}}}}"#, "y".repeat(70 * 1024)).into_bytes()
}

/// Sends one refusal case and checks status and body byte for byte.
pub(super) async fn check(client: &reqwest::Client, endpoint: &str, case: &Refusal) -> Result {
    let mut request = client
        .post(endpoint)
        .header("content-type", "application/json")
        .body(case.body.clone());
    if let Some(token) = &case.token {
        request = request.header("x-github-oidc-token", token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| failed(format!("request failed: {e}")))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status != case.status || body != case.answer {
        return Err(failed(format!(
            "expected {} {}, got {status} {body}",
            case.status, case.answer
        )));
    }
    Ok(())
}

/// Every CI route of a production deployment answers 404 `Not Found`, token or not.
pub(crate) async fn check_production(
    http: &reqwest::Client,
    url: &str,
    issuer: &MockIssuer,
) -> Result {
    let token = issuer.token(AUDIENCE).build();
    let requests = [
        http.get(format!("{url}/api/~/ci/health")),
        http.post(format!("{url}/api/~/ci/{ENDPOINT}"))
            .header("x-github-oidc-token", &token)
            .body(r#"{"flags":{"a":true}}"#),
        http.get(format!("{url}/api/~/ci/{ENDPOINT}")),
        http.post(format!("{url}/api/~/ci/anything/else")),
    ];
    for request in requests {
        let response = request.send().await.map_err(|e| failed(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status != 404 || body != "Not Found" {
            return Err(failed(format!(
                "expected 404 Not Found, got {status} {body}"
            )));
        }
    }
    Ok(())
}
