//! The OIDC extractor. A handler that takes a [`VerifiedCaller`] runs only for a request whose
//! token passed every check of its endpoint's policy; a refused request gets the contract's
//! 401/403/503 and its request's one log line says why (see [`crate::audit`]), while the token
//! itself is never logged or echoed.

use std::time::Duration;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{Extensions, HeaderMap, request::Parts},
};
use ci_oidc::{GitHubClaims, Reason, Rejection, SecretString};

use crate::{
    CiError, EndpointState, TOKEN_HEADER,
    audit::{self, Refusal, RequestRecord, SummaryValue},
    span, stealth,
};

/// The 400 reason for a `maxAge` above the policy's `cookie_max_age`.
const MAX_AGE_TOO_LONG: &str = "max_age_too_long";

/// A caller whose GitHub Actions OIDC token was verified against the endpoint's policy. The
/// private field means only this crate can build one: an endpoint cannot skip the guard chain.
#[derive(Debug, Clone)]
pub struct VerifiedCaller {
    claims: GitHubClaims,
    cookie_max_age: Duration,
    record: Option<RequestRecord>,
    _sealed: (),
}

impl VerifiedCaller {
    /// The verified claims (repository, workflow, ref, run id, …).
    pub fn claims(&self) -> &GitHubClaims {
        &self.claims
    }

    /// Adds `key=value` to the `summary` of this call's audit line (see [`crate::audit`]): what
    /// the endpoint did, in numbers (`caller.summarize("flag_count", flags.len())`), never what
    /// it was given. Values are numbers, booleans or words fixed in the endpoint's code; a key
    /// summarized twice keeps its last value.
    pub fn summarize(&self, key: &'static str, value: impl Into<SummaryValue>) {
        if let Some(record) = &self.record {
            record.summarize(key, value.into());
        }
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
                self.summarize("max_age", secs);
                self.summarize("cookie_max_age", limit);
                Err(CiError::BadRequest {
                    reason: Some(MAX_AGE_TOO_LONG),
                })
            }
            None => Err(CiError::bad_request()),
        }
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> GitHubClaims {
        self.claims
    }
}

/// Set on a request once [`VerifiedCaller`] was taken as its own extractor, so that a handler
/// also taking [`crate::VerifiedJson`] (which verifies and spends on its own) is caught.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallerTaken;

impl<S> FromRequestParts<S> for VerifiedCaller
where
    EndpointState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = CiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = EndpointState::from_ref(state);
        let caller = VerifiedCaller::verify(&parts.headers, &parts.extensions, &state).await?;
        caller.spend(&parts.extensions, &state).await?;
        caller.admit(&parts.extensions);
        parts.extensions.insert(CallerTaken);
        Ok(caller)
    }
}

impl VerifiedCaller {
    /// Verifies the request's token against the endpoint's policy and its deployment binding.
    /// The token is not spent yet ([`spend`](Self::spend)) and the request not yet marked as a
    /// verified caller's ([`admit`](Self::admit)).
    pub(crate) async fn verify(
        headers: &HeaderMap,
        extensions: &Extensions,
        state: &EndpointState,
    ) -> Result<VerifiedCaller, CiError> {
        let Some(token) = token_from_headers(headers) else {
            let refusal = Refusal::named("no_token");
            return Err(audit::refuse(extensions, refusal, CiError::Unauthorized));
        };
        let verified = state.verifier().verify(&token, state.policy()).await;
        let claims = verified.map_err(|rejection| refuse(extensions, &rejection))?;
        // The binding needs more than the token and the policy; it runs once the signature is
        // known good.
        if let Err((refusal, error)) = state.guards().bind(&claims) {
            return Err(audit::refuse(extensions, refusal, error));
        }
        Ok(VerifiedCaller {
            claims,
            cookie_max_age: Duration::from_secs(state.policy().cookie_max_age),
            record: RequestRecord::of(extensions),
            _sealed: (),
        })
    }

    /// Spends a `single_use` token (see [`crate::guards`]): the last check before the handler.
    pub(crate) async fn spend(
        &self,
        extensions: &Extensions,
        state: &EndpointState,
    ) -> Result<(), CiError> {
        state
            .guards()
            .spend(&self.claims)
            .await
            .map_err(|(refusal, error)| audit::refuse(extensions, refusal, error))
    }

    /// Marks the request as this caller's: from here on every log line of the request names the
    /// caller (see `span`), the request ends with an audit line, and stealth mode lets its answer
    /// through.
    pub(crate) fn admit(&self, extensions: &Extensions) {
        span::record_caller(&self.claims);
        if let Some(record) = &self.record {
            record.verified(&self.claims);
        }
        stealth::mark_verified(extensions);
    }
}

/// The token, if the header is present once, is visible ASCII and not blank (the prototype treated an
/// empty header like a missing one).
pub(crate) fn token_from_headers(headers: &HeaderMap) -> Option<SecretString> {
    let mut values = headers.get_all(TOKEN_HEADER).iter();
    let (value, None) = (values.next()?, values.next()) else {
        // Two tokens: which one a proxy or a framework would pick is anyone's guess; take neither.
        return None;
    };
    let value = value.to_str().ok()?.trim();
    (!value.is_empty()).then(|| SecretString::new(value.to_owned()))
}

/// Maps a rejection to the contract's answer and records the detail for the request's line.
/// `Rejection` never holds the token, only which check failed and the claim values involved.
fn refuse(extensions: &Extensions, rejection: &Rejection) -> CiError {
    let reason = rejection.reason();
    let error = match reason {
        Reason::RepoMismatch => CiError::Forbidden {
            reason: reason.as_str(),
        },
        Reason::KeysUnavailable => CiError::Unavailable,
        _ => CiError::Unauthorized,
    };
    let refusal = Refusal {
        reason: reason.as_str(),
        kind: Some(rejection.kind.as_str()),
        check: Some(rejection.check),
        expected: Some(rejection.expected.clone()),
        actual: Some(rejection.actual.clone()),
    };
    audit::refuse(extensions, refusal, error)
}
