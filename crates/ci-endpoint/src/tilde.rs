//! `/api/%7E/ci/…` is `/api/~/ci/…`: RFC 3986 (section 2.3) makes a percent-encoded unreserved
//! character equivalent to the character itself, and some proxies and HTTP clients encode `~`.
//! Without this a CI job behind such a proxy met a silent 404. The router matches raw paths, so
//! the prefix is decoded before routing; everything else about the request is left alone (the
//! production router still answers 404 to both spellings).

use axum::{
    extract::Request,
    http::{Uri, uri::PathAndQuery},
};

/// The encoded spellings of the `/api/~/` prefix (percent-encoding hex is case-insensitive).
const ENCODED: [&str; 2] = ["/api/%7E/", "/api/%7e/"];

/// The request with an encoded `~` in the CI prefix decoded; any other request unchanged.
pub(crate) fn decode_prefix(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let Some(rest) = ENCODED.iter().find_map(|prefix| path.strip_prefix(prefix)) else {
        return request;
    };
    let mut decoded = format!("/api/~/{rest}");
    if let Some(query) = uri.query() {
        decoded.push('?');
        decoded.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    // Both spellings are valid path bytes, so the rebuilt path always parses; if it ever did
    // not, the request keeps its original URI (and meets the 404 it would have met anyway).
    let Ok(path_and_query) = PathAndQuery::from_maybe_shared(decoded) else {
        return request;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(uri: &str) -> String {
        let request = Request::get(uri).body(axum::body::Body::empty()).unwrap();
        decode_prefix(request).uri().to_string()
    }

    #[test]
    fn encoded_tilde_in_the_prefix_is_decoded() {
        assert_eq!(path("/api/%7E/ci/health"), "/api/~/ci/health");
        assert_eq!(path("/api/%7e/ci/health?x=1"), "/api/~/ci/health?x=1");
        assert_eq!(path("http://h/api/%7E/ci/a/b"), "http://h/api/~/ci/a/b");
        for unchanged in [
            "/api/~/ci/health",
            "/api/%7E",
            "/x/api/%7E/ci/health",
            "/api/%7F/ci/",
        ] {
            assert_eq!(path(unchanged), unchanged);
        }
    }
}
