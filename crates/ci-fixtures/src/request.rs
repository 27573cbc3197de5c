//! A request to a CI endpoint as the client sends it: `POST`, a JSON body, the token in the kit's
//! header ([`ci_endpoint::TOKEN_HEADER`]). Tests build every endpoint request with it (through
//! [`crate::TestApp::call`] when they have the app; [`post_http`] over a socket), so the header
//! name is written once.

use axum::{
    body::Body,
    http::{Request, request::Builder},
};

/// A request being built; [`EndpointRequest::body`] finishes it.
#[derive(Debug)]
pub struct EndpointRequest {
    builder: Builder,
}

impl EndpointRequest {
    /// A JSON `POST` to `path` (a path and query, as the router sees it).
    pub fn post(path: &str) -> Self {
        EndpointRequest {
            builder: Request::post(path).header("content-type", "application/json"),
        }
    }

    /// The caller's token in the kit's header; `None` sends none.
    pub fn token(mut self, token: Option<&str>) -> Self {
        if let Some(token) = token {
            self.builder = self.builder.header(ci_endpoint::TOKEN_HEADER, token);
        }
        self
    }

    /// Another header (repeatable: each call adds a value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// The request with `body`.
    pub fn body(self, body: impl Into<Body>) -> Request<Body> {
        self.builder.body(body.into()).expect("request builds")
    }
}

/// [`EndpointRequest`] over a socket, for a server running as a process: posts `body` to `url`
/// with `token` in the kit's header; the status and the body text.
pub async fn post_http(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header(ci_endpoint::TOKEN_HEADER, token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("the body reads"))
}

/// `GET url` over a socket: the status and the body text.
pub async fn get_http(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("the body reads"))
}
