//! The `vercel/protection-cookie` endpoint: a verified CI caller posts `{}` (or
//! `{"sameSite":"none"}` for cross-site iframes) and gets back
//! `{"cookie":{"name","value","domain","path","expires","httpOnly","secure","sameSite"}}`, Vercel's
//! bypass cookie for the host the request arrived on, or `{"cookie":null}` when the deployment is
//! not protected.
//!
//! The kit has refused production (404), bad tokens (401/403), replays and foreign deployments
//! (`single_use`, `bind_deployment`) and bad bodies, and read the secret. The handler checks, in
//! order: the body (400 `invalid_same_site`), the host (403 `host_not_allowed`, see
//! [`crate::hosts`]), the secret (500 `misconfigured` when `VERCEL_AUTOMATION_BYPASS_SECRET` is
//! missing; health lists the endpoint `ready:false`), then primes (502 `edge_unreachable`,
//! `edge_refused` or `no_cookie`, see [`crate::prime`]). The secret is in no answer, log line or
//! error text; the cookie's value is in the answer only.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Json, routing::post};
use ci_endpoint::{
    CiError, Endpoint, EndpointState, JsonBody, Secret, StartupError, VerifiedCaller,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::hosts::{OwnHosts, SELF_CA_VAR};
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

/// The endpoint, with the deployment's hosts from the environment (`VERCEL_URL`,
/// `VERCEL_BRANCH_URL`, `CI_PREVIEW_SELF_URL`, `CI_PREVIEW_SELF_CA`).
pub fn endpoint() -> Result<Endpoint, StartupError> {
    let hosts =
        OwnHosts::from_env().map_err(|(var, message)| StartupError::config(var, message))?;
    endpoint_with(hosts)
}

/// [`endpoint`] with the hosts given (tests; hosts that configure them another way).
pub fn endpoint_with(hosts: OwnHosts) -> Result<Endpoint, StartupError> {
    let extra_roots = match hosts.self_ca() {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            StartupError::config(SELF_CA_VAR, format!("cannot read {}: {e}", path.display()))
        })?),
        None => None,
    };
    let primer = Primer::new(extra_roots.as_deref())
        .map_err(|message| StartupError::config(SELF_CA_VAR, message))?;
    if hosts.is_empty() {
        tracing::warn!(
            endpoint = NAME,
            "no host of this deployment is known (VERCEL_URL, VERCEL_BRANCH_URL or \
             CI_PREVIEW_SELF_URL): only hosts the policy lists in preview_hosts are primed"
        );
    }
    let handler = move |caller: VerifiedCaller,
                        State(state): State<EndpointState>,
                        secret: Secret<BypassSecret>,
                        headers: HeaderMap,
                        JsonBody(body): JsonBody<Value>| {
        let (hosts, primer) = (hosts.clone(), primer.clone());
        async move { issue(&caller, &state, &hosts, &primer, &secret, &headers, &body).await }
    };
    Ok(Endpoint::new(NAME, post(handler)).with_secret(BYPASS_SECRET_VAR, BypassSecret::parse))
}

async fn issue(
    _caller: &VerifiedCaller,
    state: &EndpointState,
    hosts: &OwnHosts,
    primer: &Primer,
    secret: &Secret<BypassSecret>,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Json<Value>, CiError> {
    let same_site_none = same_site_none(body)?;
    let requested = requested_host(headers)?;
    let origin = hosts
        .origin_for(&requested, &state.policy().preview_hosts)
        .map_err(|refusal| {
            tracing::warn!(
                status = 403,
                reason = refusal.reason,
                "request refused: {}",
                refusal.detail
            );
            CiError::Forbidden {
                reason: refusal.reason,
            }
        })?;
    let secret = secret.get()?;
    let host = origin.host_str().unwrap_or_default().to_owned();
    match primer.prime(&origin, &secret.0, same_site_none).await {
        Ok(Primed::Cookie(cookie)) => {
            tracing::info!(
                host,
                cookie_name = cookie.name,
                expires = cookie.expires,
                same_site = cookie.same_site,
                "protection cookie issued"
            );
            Ok(Json(json!({ "cookie": cookie })))
        }
        Ok(Primed::NotProtected) => {
            tracing::info!(
                host,
                "the priming request reached the app without a cookie: not protected"
            );
            Ok(Json(json!({ "cookie": null })))
        }
        Err(error) => {
            tracing::error!(
                host,
                status = 502,
                reason = error.reason(),
                "priming failed: {error}"
            );
            Err(CiError::BadGateway {
                reason: error.reason(),
            })
        }
    }
}

/// `{}` or `{"sameSite":"lax"|"none"}`; anything else in `sameSite` is a 400.
fn same_site_none(body: &Value) -> Result<bool, CiError> {
    let Value::Object(body) = body else {
        tracing::info!("request refused: the body is not a JSON object");
        return Err(CiError::bad_request());
    };
    match body.get("sameSite").map(|v| v.as_str()) {
        None | Some(Some("lax")) => Ok(false),
        Some(Some("none")) => Ok(true),
        Some(_) => {
            tracing::info!("request refused: sameSite is not \"lax\" or \"none\"");
            Err(CiError::BadRequest {
                reason: Some("invalid_same_site"),
            })
        }
    }
}

/// The host the request arrived on: `x-forwarded-host` (set, and overwritten, by Vercel's edge)
/// when present, else `Host`. More than one value of either is refused: which one a proxy
/// meant is anyone's guess.
fn requested_host(headers: &HeaderMap) -> Result<String, CiError> {
    let refuse = |why: &str| {
        tracing::warn!(
            status = 403,
            reason = "host_not_allowed",
            "request refused: {why}"
        );
        CiError::Forbidden {
            reason: "host_not_allowed",
        }
    };
    for name in ["x-forwarded-host", "host"] {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(refuse(&format!("more than one {name} header")));
        }
        return value
            .to_str()
            .map(str::to_owned)
            .map_err(|_| refuse(&format!("{name} is not visible ASCII")));
    }
    Err(refuse("the request names no host"))
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
