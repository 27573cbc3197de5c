//! A `proxy/…` endpoint: a verified CI caller posts JSON and gets the JSON answer of the one
//! upstream its policy entry declares, called with the preview's secret. The caller chooses no
//! URL, path, method or header; its body goes on only if the policy allows (`max_request_bytes`,
//! `json_fields`). Refused with a reason, before a `single_use` token is spent
//! ([`RequestBody::validate`]): a body where none is forwarded (`body_not_accepted`), a field not
//! listed (`field_not_allowed`) or not an object (`body_not_an_object`), too big to forward (413).
//! The upstream's failures are 502/504 with a reason (`upstream.rs`).

use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Config, Endpoint, RequestBody, Secret, VerifiedJson};
use serde_json::Value;

use crate::{ProxyConfig, UpstreamClient, UpstreamSecret};

/// The endpoint `name` (`proxy/…`) with [`UpstreamClient::shared`]: see [`endpoint_with`].
pub fn endpoint(name: &'static str, secret_var: &'static str) -> Endpoint {
    endpoint_with(name, secret_var, UpstreamClient::shared())
}

/// The endpoint `name` (`proxy/…`), its upstream in its policy entry's `config`, the `${VAR}` of
/// its headers read from `var` at start-up, calling through `client`.
pub fn endpoint_with(name: &'static str, var: &'static str, client: UpstreamClient) -> Endpoint {
    let handler = move |config, secret, call| proxy(config, secret, client.clone(), var, call);
    Endpoint::new(name, post(handler))
        .with_config::<ProxyConfig>()
        .with_secret(var, UpstreamSecret::parse)
        .destructive() // a provisioning call has effects: the strict posture
}

/// The caller's JSON, forwarded (or not) as the policy entry says.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct ProxyRequest(Value);

impl ProxyRequest {
    /// The bytes to forward (`None`: no body), or why the body is refused.
    fn forwarded(&self, config: &ProxyConfig) -> Result<Option<Vec<u8>>, CiError> {
        let refuse = |reason| {
            tracing::info!(reason, "request refused");
            CiError::BadRequest {
                reason: Some(reason),
            }
        };
        let body = &self.0;
        let empty = body.as_object().is_some_and(|map| map.is_empty());
        let forwarded = match (config.max_request_bytes, body, &config.json_fields) {
            (0, _, _) if empty => None,
            (0, _, _) => return Err(refuse("body_not_accepted")),
            (_, Value::Object(map), Some(fields)) if !map.keys().all(|k| fields.contains(k)) => {
                return Err(refuse("field_not_allowed"));
            }
            (_, Value::Object(_), _) | (_, _, None) => Some(body.to_string().into_bytes()),
            (_, _, Some(_)) => return Err(refuse("body_not_an_object")),
        };
        if forwarded.as_deref().map_or(0, <[u8]>::len) > config.max_request_bytes {
            return Err(CiError::PayloadTooLarge);
        }
        Ok(forwarded)
    }
}

impl RequestBody for ProxyRequest {
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        self.forwarded(&*context.config::<ProxyConfig>()?).map(drop)
    }
}

async fn proxy(
    config: Config<ProxyConfig>,
    secret: Secret<UpstreamSecret>,
    client: UpstreamClient,
    var: &str,
    VerifiedJson { body, .. }: VerifiedJson<ProxyRequest>,
) -> Result<Json<Value>, CiError> {
    let forwarded = body.forwarded(&config)?; // validated already: the same answer
    let secret = secret.get()?.expose();
    client.call(&config, var, forwarded, secret).await.map(Json)
}
