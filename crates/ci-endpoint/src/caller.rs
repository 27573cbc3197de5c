//! The OIDC extractor. A handler that takes a [`VerifiedCaller`] runs only for a request whose
//! token passed every check of its endpoint's policy; a refused request gets the contract's
//! 401/403/503 and a log line saying why, while the token itself is never logged or echoed.

use std::time::Duration;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use ci_oidc::{GitHubClaims, Reason, Rejection, SecretString};

use crate::{CiError, EndpointState, TOKEN_HEADER, span};

/// The 400 reason for a `maxAge` above the policy's `cookie_max_age`.
const MAX_AGE_TOO_LONG: &str = "max_age_too_long";

/// A caller whose GitHub Actions OIDC token was verified against the endpoint's policy. The
/// private field means only this crate can build one: an endpoint cannot skip the guard chain.
#[derive(Debug, Clone)]
pub struct VerifiedCaller {
    claims: GitHubClaims,
    cookie_max_age: Duration,
    _sealed: (),
}

impl VerifiedCaller {
    /// The verified claims (repository, workflow, ref, run id, …).
    pub fn claims(&self) -> &GitHubClaims {
        &self.claims
    }

    /// The longest lifetime a cookie issued to this caller may have: the endpoint's
    /// `cookie_max_age` policy key (default two hours, at most a day). A request may ask for less
    /// (`maxAge`), never for more.
    pub fn cookie_max_age(&self) -> Duration {
        self.cookie_max_age
    }

    /// The lifetime, in seconds, of a cookie issued for a request asking for `requested` (its
    /// `maxAge`): absent means [`cookie_max_age`](Self::cookie_max_age); a whole number of seconds
    /// above 0 and at most that is granted; more is `400 max_age_too_long` (the caller can ask for
    /// less), anything else a plain 400. Every cookie-issuing endpoint answers `maxAge` this way.
    pub fn cookie_lifetime(&self, requested: Option<&serde_json::Value>) -> Result<u64, CiError> {
        let limit = self.cookie_max_age.as_secs();
        let Some(requested) = requested else {
            return Ok(limit);
        };
        match requested.as_u64().filter(|&secs| secs > 0) {
            Some(secs) if secs <= limit => Ok(secs),
            Some(secs) => {
                tracing::info!(
                    max_age = secs,
                    cookie_max_age = limit,
                    "request refused: maxAge is above the policy's cookie_max_age"
                );
                Err(CiError::BadRequest {
                    reason: Some(MAX_AGE_TOO_LONG),
                })
            }
            None => {
                tracing::info!("request refused: maxAge is not a whole number of seconds above 0");
                Err(CiError::bad_request())
            }
        }
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> GitHubClaims {
        self.claims
    }
}

impl<S> FromRequestParts<S> for VerifiedCaller
where
    EndpointState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = CiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = EndpointState::from_ref(state);
        let Some(token) = token_from(parts) else {
            tracing::warn!(
                status = 401,
                "request refused: no usable {TOKEN_HEADER} header"
            );
            return Err(CiError::Unauthorized);
        };
        let claims = state
            .verifier()
            .verify(&token, state.policy())
            .await
            .map_err(|rejection| refuse(&rejection))?;
        // Checks that need more than the token and the policy (single use, deployment
        // binding) run here, after the signature is known good and before the handler.
        state.guards().check(state.name(), &claims).await?;
        // From here on, every log line of the request names the caller (see `span`).
        span::record_caller(&claims);
        tracing::info!("caller verified");
        Ok(VerifiedCaller {
            claims,
            cookie_max_age: Duration::from_secs(state.policy().cookie_max_age),
            _sealed: (),
        })
    }
}

/// The token, if the header is present once, is visible ASCII and not blank (the prototype treated an
/// empty header like a missing one).
fn token_from(parts: &Parts) -> Option<SecretString> {
    let mut values = parts.headers.get_all(TOKEN_HEADER).iter();
    let (value, None) = (values.next()?, values.next()) else {
        // Two tokens: which one a proxy or a framework would pick is anyone's guess; take neither.
        return None;
    };
    let value = value.to_str().ok()?.trim();
    (!value.is_empty()).then(|| SecretString::new(value.to_owned()))
}

/// Maps a rejection to the contract's answer and logs the detail. `Rejection` never holds the
/// token, only which check failed and the claim values involved.
fn refuse(rejection: &Rejection) -> CiError {
    let reason = rejection.reason();
    let error = match reason {
        Reason::RepoMismatch => CiError::Forbidden {
            reason: reason.as_str(),
        },
        Reason::KeysUnavailable => CiError::Unavailable,
        _ => CiError::Unauthorized,
    };
    tracing::warn!(
        status = error.status().as_u16(),
        reason = reason.as_str(),
        kind = rejection.kind.as_str(),
        check = rejection.check,
        expected = %rejection.expected,
        actual = %rejection.actual,
        "OIDC token refused"
    );
    error
}
