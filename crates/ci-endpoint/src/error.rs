//! The one error type of the kit and its endpoints. Its response bodies are the HTTP contract of
//! `CONTRACT.md` §2 byte for byte (clients and workflows match on them), and a 5xx body never says
//! anything about the server's internals: the detail goes to the log, not to the caller.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::audit::Answered;

/// Seconds a caller should wait before retrying when the issuer's keys are unavailable: long
/// enough for a background refresh to have another go, short enough for a CI job to absorb.
const RETRY_AFTER_SECS: &str = "5";

/// A refusal, as the caller sees it. Build one in a handler and return it: `Result<_, CiError>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CiError {
    /// 404 `Not Found` (text/plain): the route does not exist here (or CI routes are not served).
    #[error("not found")]
    NotFound,
    /// 401 `{"error":"unauthorized"}`: no token, an invalid token, or a policy check other than the
    /// repository failed. The reason is logged, never sent.
    #[error("unauthorized")]
    Unauthorized,
    /// 403 `{"error":"forbidden","reason":…}`; the prototype's only reason is `repo_mismatch`.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// The machine-readable reason.
        reason: &'static str,
    },
    /// 413 `{"error":"payload_too_large"}`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 400 `{"error":"bad_request"}`, or with a machine-readable reason
    /// (`{"error":"bad_request","reason":"cookie_too_large"}`).
    #[error("bad request")]
    BadRequest {
        /// The machine-readable reason, if the caller can act on one.
        reason: Option<&'static str>,
    },
    /// 500 `{"error":"misconfigured"}`: the endpoint's secret is missing in this deployment.
    #[error("misconfigured")]
    Misconfigured,
    /// 503 `{"error":"unavailable"}` with `Retry-After`: the issuer's keys could not be had, so no
    /// token can be verified right now (fail closed, but tell the caller it may retry).
    #[error("unavailable")]
    Unavailable,
    /// 500 `{"error":"internal"}`: anything else that went wrong on our side.
    #[error("internal error")]
    Internal,
    /// 502 `{"error":"bad_gateway","reason":…}`: an upstream the endpoint calls failed
    /// (`upstream_unreachable`, `upstream_redirect`, `upstream_error`, `upstream_too_large`, …).
    #[error("bad gateway: {reason}")]
    BadGateway {
        /// Which way the upstream failed.
        reason: &'static str,
    },
    /// 504 `{"error":"gateway_timeout","reason":…}`: an upstream did not answer in time.
    #[error("gateway timeout: {reason}")]
    GatewayTimeout {
        /// Which wait ran out (`upstream_timeout`).
        reason: &'static str,
    },
}

impl CiError {
    /// `BadRequest` without a reason: the plain `{"error":"bad_request"}`.
    pub const fn bad_request() -> CiError {
        CiError::BadRequest { reason: None }
    }

    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            CiError::NotFound => StatusCode::NOT_FOUND,
            CiError::Unauthorized => StatusCode::UNAUTHORIZED,
            CiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            CiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            CiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            CiError::Misconfigured | CiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            CiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            CiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            CiError::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The contract's name for this error, as its body's `error` says (`Not Found`: `not_found`).
    pub fn code(&self) -> &'static str {
        match self {
            CiError::NotFound => "not_found",
            CiError::Unauthorized => "unauthorized",
            CiError::Forbidden { .. } => "forbidden",
            CiError::PayloadTooLarge => "payload_too_large",
            CiError::BadRequest { .. } => "bad_request",
            CiError::Misconfigured => "misconfigured",
            CiError::Unavailable => "unavailable",
            CiError::Internal => "internal",
            CiError::BadGateway { .. } => "bad_gateway",
            CiError::GatewayTimeout { .. } => "gateway_timeout",
        }
    }

    /// The named reason sent with the error, if any (`repo_mismatch`, `cookie_too_large`).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            CiError::Forbidden { reason } => Some(reason),
            CiError::BadRequest { reason } => *reason,
            CiError::BadGateway { reason } | CiError::GatewayTimeout { reason } => Some(reason),
            _ => None,
        }
    }

    /// The exact body bytes sent for this error.
    pub fn body(&self) -> String {
        match self {
            CiError::NotFound => "Not Found".to_owned(),
            CiError::Unauthorized => r#"{"error":"unauthorized"}"#.to_owned(),
            CiError::Forbidden { reason } => with_reason("forbidden", reason),
            CiError::PayloadTooLarge => r#"{"error":"payload_too_large"}"#.to_owned(),
            CiError::BadRequest { reason: None } => r#"{"error":"bad_request"}"#.to_owned(),
            CiError::BadRequest {
                reason: Some(reason),
            } => with_reason("bad_request", reason),
            CiError::Misconfigured => r#"{"error":"misconfigured"}"#.to_owned(),
            CiError::Unavailable => r#"{"error":"unavailable"}"#.to_owned(),
            CiError::Internal => r#"{"error":"internal"}"#.to_owned(),
            CiError::BadGateway { reason } => with_reason("bad_gateway", reason),
            CiError::GatewayTimeout { reason } => with_reason("gateway_timeout", reason),
        }
    }
}

/// `{"error":E,"reason":R}` in that key order. Reasons are `&'static str` chosen by our own code,
/// but they go through the JSON encoder anyway so a future reason cannot break the body.
fn with_reason(error: &str, reason: &str) -> String {
    let reason = serde_json::Value::from(reason);
    format!(r#"{{"error":"{error}","reason":{reason}}}"#)
}

impl IntoResponse for CiError {
    fn into_response(self) -> Response {
        let content_type = match self {
            CiError::NotFound => "text/plain; charset=utf-8",
            _ => "application/json",
        };
        let mut response = (self.status(), self.body()).into_response();
        // For the request's one log line (`audit.rs`), whichever extractor or handler refused.
        response.extensions_mut().insert(Answered {
            error: self.code(),
            reason: self.reason(),
        });
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if self == CiError::Unavailable {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        if self == CiError::PayloadTooLarge {
            // The rest of the body is left unread and the server drops the connection; without
            // this a keep-alive client reuses it and its next request fails (IncompleteMessage).
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_contract_byte_for_byte() {
        let cases = [
            (CiError::NotFound, 404, "Not Found"),
            (CiError::Unauthorized, 401, r#"{"error":"unauthorized"}"#),
            (
                CiError::Forbidden {
                    reason: "repo_mismatch",
                },
                403,
                r#"{"error":"forbidden","reason":"repo_mismatch"}"#,
            ),
            (
                CiError::PayloadTooLarge,
                413,
                r#"{"error":"payload_too_large"}"#,
            ),
            (CiError::bad_request(), 400, r#"{"error":"bad_request"}"#),
            (
                CiError::BadRequest {
                    reason: Some("cookie_too_large"),
                },
                400,
                r#"{"error":"bad_request","reason":"cookie_too_large"}"#,
            ),
            (CiError::Misconfigured, 500, r#"{"error":"misconfigured"}"#),
            (CiError::Unavailable, 503, r#"{"error":"unavailable"}"#),
            (CiError::Internal, 500, r#"{"error":"internal"}"#),
            (
                CiError::BadGateway {
                    reason: "upstream_redirect",
                },
                502,
                r#"{"error":"bad_gateway","reason":"upstream_redirect"}"#,
            ),
            (
                CiError::GatewayTimeout {
                    reason: "upstream_timeout",
                },
                504,
                r#"{"error":"gateway_timeout","reason":"upstream_timeout"}"#,
            ),
        ];
        for (error, status, body) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.body(), body, "{error:?}");
        }
    }

    #[test]
    fn content_types_and_retry_after() {
        let not_found = CiError::NotFound.into_response();
        assert_eq!(
            not_found.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let unavailable = CiError::Unavailable.into_response();
        assert_eq!(
            unavailable.headers()[header::CONTENT_TYPE],
            "application/json"
        );
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "5");
        assert!(
            CiError::Unauthorized
                .into_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }
}
