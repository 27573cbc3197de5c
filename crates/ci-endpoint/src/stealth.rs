//! Stealth mode (`stealth = true` in the policy): a request that has not been verified gets the
//! answer of a path that does not exist, so a scanner cannot tell a protected CI route from a
//! missing one, nor learn from health which endpoints exist and which audiences they accept.
//!
//! Every answer of the served router passes through [`hide_unverified`]. Unless the request's
//! token was verified on the way ([`crate::VerifiedCaller`], or health's own check below), the
//! answer is replaced by the router's 404 (`Not Found`, the same status, body and headers as the
//! fallback of an unknown path, which takes the same way out), and it leaves no earlier than
//! [`STEALTH_FLOOR`] after the request came in: refusing a token costs a signature check that an
//! unknown path does not, and the floor keeps that difference out of the answer's timing.
//! A verified caller's answer, refusals included, passes unchanged and unpadded.
//!
//! Health under stealth answers only a request whose `x-github-oidc-token` verifies against one
//! of the served endpoints' policies (signature, issuer, audience, repository, workflow, event:
//! what the policy checks; not single use, which health does not spend).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::Request,
    http::{Extensions, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::time::Instant;

use crate::{CiError, EndpointState, caller::token_from_headers};

/// The shortest time an unverified request takes to answer under stealth. Far above what the
/// kit spends refusing a token (a signature check and the claim checks take well under a
/// millisecond), so no refusal answers measurably earlier or later than an unknown path. The
/// exception is a token whose `kid` the key store does not know: it refetches the issuer's keys,
/// at most once per cooldown, which may take longer than the floor.
pub const STEALTH_FLOOR: Duration = Duration::from_millis(25);

/// Set once the request's token is verified; the answer is then the real one.
#[derive(Debug, Clone, Default)]
struct Verified(Arc<AtomicBool>);

/// Marks the request as verified (a no-op outside stealth mode, where nothing reads the mark).
pub(crate) fn mark_verified(extensions: &Extensions) {
    if let Some(Verified(flag)) = extensions.get::<Verified>() {
        flag.store(true, Ordering::Release);
    }
}

/// The stealth layer: the real answer for a verified request, otherwise the unknown path's 404
/// at [`STEALTH_FLOOR`] after arrival.
pub(crate) async fn hide_unverified(mut request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let verified = Verified::default();
    request.extensions_mut().insert(verified.clone());
    let response = next.run(request).await;
    if verified.0.load(Ordering::Acquire) {
        return response;
    }
    // The real answer is dropped unsent: its body (a refusal, health JSON) is never read.
    drop(response);
    tokio::time::sleep_until(arrived + STEALTH_FLOOR).await;
    CiError::NotFound.into_response()
}

/// Health's check under stealth: marks the request verified when its token verifies against the
/// policy of one of `states` (the served endpoints).
pub(crate) async fn verify_for_health(states: &[EndpointState], request: &Parts) {
    let Some(token) = token_from_headers(&request.headers) else {
        return;
    };
    for state in states {
        if state
            .verifier()
            .verify(&token, state.policy())
            .await
            .is_ok()
        {
            mark_verified(&request.extensions);
            return;
        }
    }
}
