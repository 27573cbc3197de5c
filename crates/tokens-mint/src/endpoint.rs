//! The `tokens/mint` endpoint: a verified CI caller posts `{"subject":"…","claims":{…}?,"maxAge":N?}`
//! and gets back `{"token":"…","expires":T}`, a JWT the app accepts for that test user until `T`,
//! signed with the preview's key (`TOKENS_MINT_KEY`, read at start-up); CI never holds the key.
//! Refused with a reason: a subject outside the policy's `subjects` (`subject_not_allowed`), a
//! claim the policy does not let callers set (`claim_not_allowed`), a `maxAge` above the policy's
//! `token_max_age` (`max_age_too_long`); unknown body keys and a bad `maxAge` are a plain 400.

use std::sync::Arc;

use axum::{Json, routing::post};
use ci_endpoint::{CiError, Endpoint, JsonBody, Secret, VerifiedCaller};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{KEY_VAR, MintAlgorithm, MintConfig, MintKey};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "tokens/mint";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    subject: String,
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(rename = "maxAge")]
    max_age: Option<Value>,
}

/// The endpoint minting by `config` with `algorithm`'s key from `TOKENS_MINT_KEY`.
pub fn endpoint_with(config: MintConfig, algorithm: MintAlgorithm) -> Endpoint {
    let config = Arc::new(config);
    let handler = move |caller, key, body| mint(caller, key, Arc::clone(&config), body);
    Endpoint::new(NAME, post(handler)).with_secret(KEY_VAR, algorithm.key_parser())
}

async fn mint(
    caller: VerifiedCaller,
    key: Secret<MintKey>,
    config: Arc<MintConfig>,
    JsonBody(request): JsonBody<MintRequest>,
) -> Result<Json<Value>, CiError> {
    let refuse = |reason: Option<&'static str>| {
        tracing::info!(reason, subject = %request.subject, "request refused");
        CiError::BadRequest { reason }
    };
    if !config.subjects.contains(&request.subject) {
        return Err(refuse(Some("subject_not_allowed")));
    }
    if request
        .claims
        .keys()
        .any(|n| !config.caller_claims.contains(n))
    {
        return Err(refuse(Some("claim_not_allowed")));
    }
    let lifetime = match request
        .max_age
        .as_ref()
        .map(|v| v.as_u64().filter(|&s| s > 0))
    {
        None => config.token_max_age,
        Some(Some(secs)) if secs <= config.token_max_age => secs,
        Some(Some(_)) => return Err(refuse(Some("max_age_too_long"))),
        Some(None) => return Err(refuse(None)),
    };
    let key = key.get()?;
    let caller = serde_json::to_value(caller.claims()).unwrap_or_default();
    let (token, expires) = config.mint(key, &request.subject, request.claims, &caller, lifetime)?;
    tracing::info!(subject = %request.subject, lifetime, algorithm = %key.algorithm(), "token minted");
    Ok(Json(json!({ "token": token, "expires": expires })))
}
