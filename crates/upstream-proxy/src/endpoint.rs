//! A `proxy/…` endpoint: a verified CI caller posts a JSON body and gets back the JSON answer of
//! the one upstream its policy entry declares, called with the preview's secret, which CI never
//! sees. The caller chooses no URL, path, method or header; its body is forwarded only when the
//! policy allows one (`max_request_bytes`), and only with the listed fields (`json_fields`).
//! Refused with a reason: a body where none is forwarded (`body_not_accepted`), a field not
//! listed (`field_not_allowed`), a listed-fields body that is not an object (`body_not_an_object`);
//! too long is 413. The upstream's failures are 502/504 with a reason (`upstream.rs`).

use std::sync::Arc;

use axum::{Extension, Json, routing::post};
use ci_endpoint::{BodyLimit, CiError, Endpoint, JsonBody, Secret, VerifiedCaller};
use serde_json::Value;

use crate::config::{ConfigError, ProxyConfig};
use crate::upstream::{Upstream, UpstreamClient, UpstreamSecret};

/// The endpoint `name` (`proxy/…`) calling the upstream `config` declares through `client`.
pub fn endpoint(
    name: &'static str,
    config: ProxyConfig,
    client: &UpstreamClient,
) -> Result<Endpoint, ConfigError> {
    let upstream = Arc::new(Upstream::new(config, client)?);
    // A proxy forwarding no body reads a little, to refuse a body by name rather than by size.
    let limit = BodyLimit(match upstream.config.max_request_bytes {
        0 => 1024,
        max => max,
    });
    let var = upstream.var.clone();
    let handler = move |caller, secret, body| proxy(caller, secret, Arc::clone(&upstream), body);
    let endpoint = Endpoint::new(name, post(handler).layer(Extension(limit)));
    // The variable's name comes from the policy, the kit keeps names for the process's life.
    Ok(match var {
        Some(var) => endpoint.with_secret(Box::leak(var.into_boxed_str()), UpstreamSecret::parse),
        None => endpoint,
    })
}

async fn proxy(
    _caller: VerifiedCaller,
    secret: Secret<UpstreamSecret>,
    upstream: Arc<Upstream>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, CiError> {
    let refuse = |reason: &'static str, why: &str| {
        tracing::info!(reason, "request refused: {why}");
        CiError::BadRequest {
            reason: Some(reason),
        }
    };
    let config = &upstream.config;
    let forwarded = match (&body, &config.json_fields) {
        (Value::Object(map), _) if config.max_request_bytes == 0 && map.is_empty() => None,
        (_, _) if config.max_request_bytes == 0 => {
            return Err(refuse(
                "body_not_accepted",
                "this proxy forwards no body: send {}",
            ));
        }
        (Value::Object(map), Some(fields)) => match map.keys().find(|k| !fields.contains(k)) {
            Some(_) => return Err(refuse("field_not_allowed", "a field outside `json_fields`")),
            None => Some(body.to_string().into_bytes()),
        },
        (_, Some(_)) => {
            return Err(refuse(
                "body_not_an_object",
                "`json_fields` needs an object",
            ));
        }
        (_, None) => Some(body.to_string().into_bytes()),
    };
    let secret = match upstream.var {
        Some(_) => Some(secret.get()?.expose()),
        None => None,
    };
    upstream.call(forwarded, secret).await.map(Json)
}
