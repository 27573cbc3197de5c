//! `GET /api/~/ci/health`: unauthenticated by design, so a CI job can wait for its preview and
//! learn, before minting a token, which commit it serves and which audience each endpoint wants.
//! Everything in it is fixed at start-up, so the body is rendered once.

use axum::{
    body::Bytes,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{Deployment, endpoint_path};

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    environment: Option<&'a str>,
    commit: Option<&'a str>,
    #[serde(rename = "ref")]
    git_ref: Option<&'a str>,
    pull_request: Option<&'a str>,
    policy_sha256: &'a str,
    endpoints: Vec<HealthEndpoint<'a>>,
}

#[derive(Serialize)]
struct HealthEndpoint<'a> {
    name: &'a str,
    path: String,
    audience: &'a str,
    ready: bool,
}

/// One endpoint as health lists it.
pub(crate) struct Listed<'a> {
    pub(crate) name: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) ready: bool,
}

/// Renders the health body (keys in the order of the contract).
pub(crate) fn render(
    deployment: &Deployment,
    policy_sha256: &str,
    endpoints: &[Listed<'_>],
) -> Bytes {
    let health = Health {
        status: "ok",
        environment: deployment.environment.as_deref(),
        commit: deployment.commit.as_deref(),
        git_ref: deployment.git_ref.as_deref(),
        pull_request: deployment.pull_request.as_deref(),
        policy_sha256,
        endpoints: endpoints
            .iter()
            .map(|e| HealthEndpoint {
                name: e.name,
                path: endpoint_path(e.name),
                audience: e.audience,
                ready: e.ready,
            })
            .collect(),
    };
    // Serialising plain strings and bools into a Vec cannot fail.
    Bytes::from(serde_json::to_vec(&health).unwrap_or_default())
}

/// The response for a pre-rendered body.
pub(crate) fn respond(body: Bytes) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
