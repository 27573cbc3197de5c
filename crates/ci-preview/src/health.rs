//! The preview's health route (`GET /api/~/ci/health`) and what each answer means.
//!
//! Health is unauthenticated by design: it tells the client which commit the preview serves (so a
//! stale branch alias is not mistaken for the new deployment) and each endpoint's audience (so the
//! client mints the right token). Every way the probe can go wrong maps to an [`Observation`] with
//! a sentence that names the likely fix; `wait` prints them as progress and in its timeout error.
//! Health is pull-request code, so [`probe`] passes every string it keeps through
//! `crate::untrusted` (and a `commit` that is not 40 hex digits counts as unreported).

use serde::Deserialize;

use crate::http::describe_transport;
use crate::preview::Preview;
use crate::protection::Guard;
use crate::untrusted;

/// The health JSON (`CONTRACT.md` §3). Unknown fields are ignored so the server can add more.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct Health {
    pub status: String,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub pull_request: Option<String>,
    #[serde(default)]
    pub policy_sha256: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct EndpointInfo {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    pub audience: String,
    #[serde(default = "yes")]
    pub ready: bool,
}

fn yes() -> bool {
    true
}

impl Health {
    pub(crate) fn endpoint(&self, name: &str) -> Option<&EndpointInfo> {
        let name = name.trim_matches('/');
        self.endpoints
            .iter()
            .find(|e| e.name.trim_matches('/') == name)
    }

    pub(crate) fn endpoint_names(&self) -> String {
        if self.endpoints.is_empty() {
            return "none".to_owned();
        }
        let names = self
            .endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        untrusted::text(&names)
    }

    /// Makes the fields the client prints inert, and drops a commit that is not a full SHA.
    fn sanitized(mut self) -> Self {
        self.commit = self.commit.as_deref().and_then(untrusted::commit);
        self.environment = self.environment.as_deref().map(untrusted::text);
        self.git_ref = self.git_ref.as_deref().map(untrusted::text);
        self.pull_request = self.pull_request.as_deref().map(untrusted::text);
        self
    }
}

/// What the request carried past Deployment Protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Nothing,
    Bypass,
    Oidc,
}

impl Sent {
    pub(crate) fn of(guard: &Guard) -> Self {
        match guard {
            Guard::None => Self::Nothing,
            Guard::Bypass(_) => Self::Bypass,
            Guard::Oidc(_) if guard.sends_credentials() => Self::Oidc,
            Guard::Oidc(_) => Self::Nothing,
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Self::Bypass => {
                "the bypass secret was rejected: set DEPLOYMENT_PROTECTION_BYPASS to the project's \
                 current \"Protection Bypass for Automation\" secret"
            }
            Self::Oidc => {
                "the OIDC token was rejected: check the project's Trusted Sources rule (issuer \
                 https://token.actions.githubusercontent.com, the --protection-audience, and the \
                 pinned repository_id and workflow_ref must match this run)"
            }
            Self::Nothing => {
                "the deployment is protected: add `permissions: id-token: write` and a Trusted \
                 Sources rule (--protection oidc), or set DEPLOYMENT_PROTECTION_BYPASS"
            }
        }
    }
}

/// One look at the health route.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observation {
    /// 200 with health JSON (the commit is judged by the caller).
    Healthy(Health),
    /// 401: Vercel's deployment protection stopped the request; `sent` is what was offered.
    Unauthorized { sent: Sent },
    /// 3xx: most likely protection sending a browser to log in.
    Redirect { location: String, sent: Sent },
    /// 404: no CI routes here, or the deployment does not exist (yet).
    NotFound { vercel_error: Option<String> },
    /// 200 but not health JSON.
    NotHealth { status: u16, content_type: String },
    /// Any other status.
    Status { status: u16, body: String },
    /// No HTTP answer at all.
    Unreachable(String),
}

impl Observation {
    /// One line: what was seen and what it most likely means.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Healthy(health) => format!(
                "healthy, serving {} (environment {})",
                health.commit.as_deref().unwrap_or("an unknown commit"),
                health.environment.as_deref().unwrap_or("unknown")
            ),
            Self::Unauthorized { sent } => format!("401: {}", sent.fix()),
            Self::Redirect { location, sent } => format!(
                "redirected to {location}: Deployment Protection wants a login; {}",
                sent.fix()
            ),
            Self::NotFound {
                vercel_error: Some(code),
            } => format!(
                "404 {code}: no deployment answers at this URL (not created yet, or the URL is wrong)"
            ),
            Self::NotFound { vercel_error: None } => {
                "404: no CI routes here (a deployment without the CI server, \
                or production, where CI routes answer 404), or the preview's policy sets \
                `stealth = true`, under which health answers 404 to a request without a valid \
                token: then skip the wait and call the endpoint with its --audience pinned"
                    .to_owned()
            }
            Self::NotHealth {
                status,
                content_type,
            } => format!(
                "HTTP {status} but not CI health JSON ({content_type}): /api/~/ci/* is not routed to the CI server"
            ),
            Self::Status { status, body } if body.is_empty() => format!("HTTP {status}"),
            Self::Status { status, body } => format!("HTTP {status}: {body}"),
            Self::Unreachable(why) => why.clone(),
        }
    }
}

/// GETs the health route once.
pub(crate) async fn probe(client: &reqwest::Client, preview: &Preview) -> Observation {
    let observation = probe_once(client, preview).await;
    // `--protection auto`: a protection answer arms the Trusted Sources token; ask again with it.
    let armed = match &observation {
        Observation::Unauthorized { .. } => preview.guard().arm_after(401, None),
        Observation::Redirect { location, .. } => preview.guard().arm_after(302, Some(location)),
        _ => false,
    };
    if armed {
        return probe_once(client, preview).await;
    }
    observation
}

async fn probe_once(client: &reqwest::Client, preview: &Preview) -> Observation {
    let headers = match preview.headers().await {
        Ok(headers) => headers,
        Err(err) => return Observation::Unreachable(err.message),
    };
    let response = match client
        .get(preview.health_url())
        .headers(headers)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => return Observation::Unreachable(describe_transport(&err)),
    };
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(untrusted::text)
    };
    let content_type = header("content-type").unwrap_or_else(|| "no content-type".to_owned());
    let location = header("location");
    let vercel_error = header("x-vercel-error");
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) => return Observation::Unreachable(describe_transport(&err)),
    };
    match status {
        200 => match serde_json::from_slice::<Health>(&body) {
            Ok(health) => Observation::Healthy(Health::sanitized(health)),
            Err(_) => Observation::NotHealth {
                status,
                content_type,
            },
        },
        401 => Observation::Unauthorized {
            sent: Sent::of(preview.guard()),
        },
        300..=399 => Observation::Redirect {
            location: location.unwrap_or_else(|| "nowhere".to_owned()),
            sent: Sent::of(preview.guard()),
        },
        404 => Observation::NotFound { vercel_error },
        _ => Observation::Status {
            status,
            body: snippet(&body),
        },
    }
}

/// The start of a response body, on one inert line, for an error message.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    untrusted::text(&out)
}

/// Does the preview serve `expected`? Case-insensitive; a short SHA (≥ 7) matches as a prefix.
pub(crate) fn commit_matches(serving: &str, expected: &str) -> bool {
    let (serving, expected) = (
        serving.trim().to_ascii_lowercase(),
        expected.trim().to_ascii_lowercase(),
    );
    if serving.is_empty() || expected.is_empty() {
        return false;
    }
    serving == expected
        || (expected.len() >= 7 && serving.starts_with(&expected))
        || (serving.len() >= 7 && expected.starts_with(&serving))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_shape() {
        let json = r#"{"status":"ok","environment":"preview","commit":"abc","ref":"feat","pull_request":"12",
            "policy_sha256":"00","endpoints":[{"name":"flags/encrypt-override","path":"/api/~/ci/flags/encrypt-override",
            "audience":"https://v0.app/api/~/ci/flags/encrypt-override","ready":true}],"extra":1}"#;
        let health: Health = serde_json::from_str(json).unwrap();
        assert_eq!(health.git_ref.as_deref(), Some("feat"));
        let endpoint = health.endpoint("/flags/encrypt-override").unwrap();
        assert_eq!(
            endpoint.audience,
            "https://v0.app/api/~/ci/flags/encrypt-override"
        );
        assert!(health.endpoint("flags/other").is_none());
    }

    #[test]
    fn commits_compare_in_full_or_by_a_long_enough_prefix() {
        let full = "0123456789abcdef0123456789abcdef01234567";
        assert!(commit_matches(full, &full.to_uppercase()));
        assert!(commit_matches(full, "0123456"));
        assert!(!commit_matches(full, "012345"));
        assert!(!commit_matches(full, "fedcba9876"));
        assert!(!commit_matches("", full));
    }

    #[test]
    fn explanations_name_the_fix() {
        assert!(
            Observation::Unauthorized { sent: Sent::Bypass }
                .describe()
                .contains("bypass secret was rejected")
        );
        assert!(
            Observation::Unauthorized {
                sent: Sent::Nothing
            }
            .describe()
            .contains("set DEPLOYMENT_PROTECTION_BYPASS")
        );
        assert!(
            Observation::Unauthorized { sent: Sent::Oidc }
                .describe()
                .contains("Trusted Sources rule")
        );
        assert!(
            Observation::NotFound { vercel_error: None }
                .describe()
                .contains("production")
        );
    }
}
