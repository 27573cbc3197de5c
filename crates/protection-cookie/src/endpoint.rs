//! The `vercel/protection-cookie` endpoint: a verified CI caller posts `{}` (or
//! `{"sameSite":"none"}` for cross-site iframes) and gets back
//! `{"cookie":{"name","value","domain","path","expires","httpOnly","secure","sameSite"}}`, Vercel's
//! bypass cookie for the host the request arrived on, or `{"cookie":null}` when the deployment is
//! not protected.
//!
//! The kit has refused production (404), bad tokens (401/403), replays and foreign deployments
//! (`single_use`, `bind_deployment`) and bad bodies (400 `invalid_same_site` included, before a
//! `single_use` token is spent), and read the secret. The handler checks, in order: the host (403 `host_not_allowed`, see
//! [`crate::hosts`]), the secret (500 `misconfigured` when `VERCEL_AUTOMATION_BYPASS_SECRET` is
//! missing; health lists the endpoint `ready:false`), then primes (502 `edge_unreachable`,
//! `edge_refused` or `no_cookie`, see [`crate::prime`]). The secret is in no answer, log line or
//! error text; the cookie's value is in the answer only.

use axum::http::HeaderMap;
use axum::{Json, routing::post};
use ci_endpoint::{
    BodyContext, CiError, Config, ConfigError, Endpoint, EndpointConfig, RequestBody, Secret,
    VerifiedCaller, VerifiedJson,
};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::hosts::{OwnHosts, SELF_CA_VAR, is_host_name};
use crate::prime::{Primed, Primer};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "vercel/protection-cookie";
/// Vercel's system variable holding the project's Protection Bypass for Automation secret.
pub const BYPASS_SECRET_VAR: &str = "VERCEL_AUTOMATION_BYPASS_SECRET";

/// The bypass secret; its `Debug` never shows it and it is wiped when dropped.
pub struct BypassSecret(Zeroizing<String>);

impl BypassSecret {
    /// Visible ASCII without spaces: what a header can carry and what Vercel generates.
    pub fn parse(text: &str) -> Result<BypassSecret, String> {
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "must be visible ASCII without spaces (copy it again from the project's \
                        Deployment Protection settings)"
                    .to_owned(),
            );
        }
        Ok(BypassSecret(Zeroizing::new(text.to_owned())))
    }
}

impl std::fmt::Debug for BypassSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BypassSecret(<redacted>)")
    }
}

/// The endpoint's settings: `[endpoints."vercel/protection-cookie".config]`.
///
/// ```toml
/// [endpoints."vercel/protection-cookie".config]
/// preview_hosts = ["preview.example.com"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Hosts the deployment answers on besides `VERCEL_URL` and `VERCEL_BRANCH_URL` (custom
    /// preview domains): exact lower-case host names, primed over https. No wildcards: each
    /// listed host receives the bypass secret.
    #[serde(default)]
    pub preview_hosts: Vec<String>,
}

impl EndpointConfig for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (i, host) in self.preview_hosts.iter().enumerate() {
            if !is_host_name(host) {
                return Err(ConfigError::new(
                    format!("preview_hosts[{i}]"),
                    "must be a lower-case host name such as \"preview.example.com\" (no scheme, \
                     path, port or wildcard)",
                ));
            }
        }
        Ok(())
    }
}

/// The endpoint, with the deployment's hosts from the environment (`VERCEL_URL`,
/// `VERCEL_BRANCH_URL`, `CI_PREVIEW_SELF_URL`, `CI_PREVIEW_SELF_CA`). A malformed variable is
/// logged as an error and ignored, which fails closed: its host is never primed.
pub fn endpoint() -> Endpoint {
    let hosts = OwnHosts::from_env().unwrap_or_else(|(var, message)| {
        tracing::error!(
            endpoint = NAME,
            "{var} {message}: ignored, so no request is primed for the hosts it would name"
        );
        OwnHosts::from_lookup(|name| {
            (name != var && name != SELF_CA_VAR)
                .then(|| std::env::var(name).ok())
                .flatten()
        })
        .unwrap_or_default()
    });
    endpoint_with(hosts)
}

/// [`endpoint`] with the hosts given (tests; hosts that configure them another way).
pub fn endpoint_with(hosts: OwnHosts) -> Endpoint {
    let extra_roots = hosts.self_ca().and_then(|path| match std::fs::read(path) {
        Ok(pem) => Some(pem),
        Err(e) => {
            tracing::error!(
                endpoint = NAME,
                "{SELF_CA_VAR}: cannot read {}: {e}",
                path.display()
            );
            None
        }
    });
    let primer = Primer::new(extra_roots.as_deref()).unwrap_or_else(|message| {
        tracing::error!(endpoint = NAME, "{SELF_CA_VAR} {message}: ignored");
        Primer::new(None).expect("the embedded roots make a client")
    });
    if hosts.is_empty() {
        tracing::warn!(
            endpoint = NAME,
            "no host of this deployment is known (VERCEL_URL, VERCEL_BRANCH_URL or \
             CI_PREVIEW_SELF_URL): only hosts the policy lists in preview_hosts are primed"
        );
    } else {
        tracing::info!(
            endpoint = NAME,
            hosts = hosts.describe(&[]),
            "the deployment's own hosts (and the policy's preview_hosts) are primed"
        );
    }
    let handler =
        move |settings: Config<Settings>,
              secret: Secret<BypassSecret>,
              headers: HeaderMap,
              VerifiedJson { caller, body }: VerifiedJson<CookieRequest>| {
            let (hosts, primer) = (hosts.clone(), primer.clone());
            async move {
                issue(
                    &caller, &settings, &hosts, &primer, &secret, &headers, &body.0,
                )
                .await
            }
        };
    Endpoint::new(NAME, post(handler))
        .with_secret(BYPASS_SECRET_VAR, BypassSecret::parse)
        .with_config::<Settings>()
}

async fn issue(
    caller: &VerifiedCaller,
    settings: &Settings,
    hosts: &OwnHosts,
    primer: &Primer,
    secret: &Secret<BypassSecret>,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Json<Value>, CiError> {
    // Refusals are logged by the kit, once, with their reason (the audit line of the call).
    let same_site_none = same_site_none(body)?;
    caller.summarize("same_site_none", same_site_none);
    let requested = requested_host(headers)?;
    let origin = hosts
        .origin_for(&requested, &settings.preview_hosts)
        .map_err(|refusal| CiError::Forbidden {
            reason: refusal.reason,
        })?;
    let secret = secret.get()?;
    match primer.prime(&origin, &secret.0, same_site_none).await {
        Ok(Primed::Cookie(cookie)) => {
            caller.summarize("protected", true);
            caller.summarize("expires", cookie.expires);
            Ok(Json(json!({ "cookie": cookie })))
        }
        Ok(Primed::NotProtected) => {
            caller.summarize("protected", false);
            Ok(Json(json!({ "cookie": null })))
        }
        Err(error) => {
            if let Some(status) = error.status() {
                caller.summarize("edge_status", status);
            }
            tracing::error!(
                host = origin.host_str().unwrap_or_default(),
                "priming failed: {error}"
            );
            Err(CiError::BadGateway {
                reason: error.reason(),
            })
        }
    }
}

/// The body: `{}` or `{"sameSite":"lax"|"none"}`.
#[derive(Deserialize)]
#[serde(transparent)]
struct CookieRequest(Value);

impl RequestBody for CookieRequest {
    fn validate(&self, _context: &BodyContext<'_>) -> Result<(), CiError> {
        same_site_none(&self.0).map(drop)
    }
}

/// `{}` or `{"sameSite":"lax"|"none"}`; anything else in `sameSite` is a 400.
fn same_site_none(body: &Value) -> Result<bool, CiError> {
    let Value::Object(body) = body else {
        return Err(CiError::bad_request());
    };
    match body.get("sameSite").map(|v| v.as_str()) {
        None | Some(Some("lax")) => Ok(false),
        Some(Some("none")) => Ok(true),
        Some(_) => Err(CiError::BadRequest {
            reason: Some("invalid_same_site"),
        }),
    }
}

/// The host the request arrived on: `x-forwarded-host` (set, and overwritten, by Vercel's edge)
/// when present, else `Host`. More than one value of either is refused: which one a proxy
/// meant is anyone's guess.
fn requested_host(headers: &HeaderMap) -> Result<String, CiError> {
    let refuse = || CiError::Forbidden {
        reason: "host_not_allowed",
    };
    for name in ["x-forwarded-host", "host"] {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(refuse());
        }
        return value.to_str().map(str::to_owned).map_err(|_| refuse());
    }
    Err(refuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_printed() {
        let secret = BypassSecret::parse(" abcDEF123 ").unwrap();
        assert_eq!(secret.0.as_str(), "abcDEF123");
        assert!(!format!("{secret:?}").contains("abc"));
        let err = BypassSecret::parse("abc def").unwrap_err();
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn preview_hosts_are_exact_host_names() {
        let settings = |hosts: &[&str]| Settings {
            preview_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        };
        assert!(settings(&["preview.example.com"]).validate().is_ok());
        for bad in [
            "https://preview.example.com",
            "*.example.com",
            "Preview.example.com",
            "localhost",
            "a.b:443",
        ] {
            let err = settings(&["ok.example.com", bad]).validate().unwrap_err();
            assert_eq!(err.key(), "preview_hosts[1]", "{bad}");
        }
    }

    #[test]
    fn bodies() {
        assert!(!same_site_none(&json!({})).unwrap());
        assert!(!same_site_none(&json!({"sameSite": "lax"})).unwrap());
        assert!(same_site_none(&json!({"sameSite": "none"})).unwrap());
        for bad in [
            json!({"sameSite": "strict"}),
            json!({"sameSite": 1}),
            json!([]),
        ] {
            assert!(same_site_none(&bad).is_err(), "{bad}");
        }
    }
}
