//! One span per endpoint request carrying who is calling, so that every log line of the request
//! (the kit's, the handler's own events) names the endpoint and, once the token is verified, the
//! caller, without any handler repeating those fields. The span also closes the request with its
//! one line: the audit line of a verified call or the refusal (see [`crate::audit`]).

use axum::{extract::Request, middleware::Next, response::Response};
use ci_oidc::GitHubClaims;
use tracing::{Instrument, Span, field::Empty};

use crate::audit::RequestRecord;

/// Runs the request inside its span. The span is at ERROR level so that it exists, and its fields
/// reach every event, whatever level the log filter lets through.
pub(crate) async fn in_request_span(
    endpoint: &'static str,
    mut request: Request,
    next: Next,
) -> Response {
    let span = tracing::error_span!(
        "ci_request",
        endpoint,
        repository = Empty,
        repository_id = Empty,
        workflow_ref = Empty,
        event_name = Empty,
        run_id = Empty,
    );
    let record = RequestRecord::default();
    request.extensions_mut().insert(record.clone());
    async move {
        let response = next.run(request).await;
        record.write(endpoint, &response);
        response
    }
    .instrument(span)
    .await
}

/// Adds the verified caller's identity to the current request's span.
pub(crate) fn record_caller(claims: &GitHubClaims) {
    let span = Span::current();
    span.record("repository", claims.repository.as_deref());
    span.record("repository_id", claims.repository_id.as_deref());
    span.record("workflow_ref", claims.workflow_ref.as_deref());
    span.record("event_name", claims.event_name.as_deref());
    span.record("run_id", claims.run_id.as_deref());
}
