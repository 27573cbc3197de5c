//! The `tokens/mint` endpoint: a verified CI caller posts `{"subject","claims"?,"maxAge"?}` and
//! gets `{"token","expires"}`, a JWT for that test user signed with the preview's key. Refused with
//! a reason: a subject outside the policy's `subjects` (`subject_not_allowed`), a claim outside its
//! `caller_claims` (`claim_not_allowed`), a `maxAge` above `token_max_age` (`max_age_too_long`),
//! an unknown field (plain 400). Every refusal of the body comes before a `single_use` token is
//! spent ([`RequestBody::validate`]).

use axum::{Json, routing::post};
use ci_endpoint::{BodyContext, CiError, Config, Endpoint, RequestBody, Secret, VerifiedJson};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{KEY_VAR, MintAlgorithm, MintConfig, MintKey};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "tokens/mint";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MintRequest {
    subject: String,
    #[serde(default)]
    claims: Map<String, Value>,
    max_age: Option<u64>,
}

/// The endpoint, signing with the algorithm `TOKENS_MINT_ALGORITHM` names as this process starts.
pub fn endpoint() -> Endpoint {
    endpoint_with(MintAlgorithm::from_env())
}

/// The endpoint for `algorithm`; `None` refuses any `TOKENS_MINT_KEY` at start-up.
pub fn endpoint_with(algorithm: Option<MintAlgorithm>) -> Endpoint {
    let parser = MintAlgorithm::key_parser(algorithm);
    let endpoint = Endpoint::new(NAME, post(mint)).with_secret(KEY_VAR, parser);
    endpoint.with_config::<MintConfig>().destructive() // a token is a login: the strict posture
}

impl MintRequest {
    /// The token's lifetime: `maxAge` when it is within `token_max_age`, else that maximum.
    fn lifetime(&self, config: &MintConfig) -> Result<u64, Option<&'static str>> {
        match self.max_age {
            None => Ok(config.token_max_age),
            Some(0) => Err(None),
            Some(secs) if secs <= config.token_max_age => Ok(secs),
            Some(_) => Err(Some("max_age_too_long")),
        }
    }
}

impl RequestBody for MintRequest {
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        let config = context.config::<MintConfig>()?;
        let refuse = |reason: Option<&'static str>| {
            tracing::info!(reason, subject = %self.subject, "request refused");
            CiError::BadRequest { reason }
        };
        if !config.subjects.contains(&self.subject) {
            return Err(refuse(Some("subject_not_allowed")));
        }
        let allowed = |claim: &String| config.caller_claims.contains(claim);
        if !self.claims.keys().all(allowed) {
            return Err(refuse(Some("claim_not_allowed")));
        }
        self.lifetime(&config).map(drop).map_err(refuse)
    }
}

async fn mint(
    key: Secret<MintKey>,
    config: Config<MintConfig>,
    VerifiedJson { caller, body }: VerifiedJson<MintRequest>,
) -> Result<Json<Value>, CiError> {
    // Validated already (`MintRequest::validate`).
    let lifetime = body
        .lifetime(&config)
        .map_err(|reason| CiError::BadRequest { reason })?;
    let key = key.get()?;
    let caller = serde_json::to_value(caller.claims()).unwrap_or_default();
    let (token, expires) = config.mint(key, &body.subject, body.claims, &caller, lifetime)?;
    tracing::info!(subject = %body.subject, lifetime, algorithm = %key.algorithm(), "token minted");
    Ok(Json(json!({ "token": token, "expires": expires })))
}
