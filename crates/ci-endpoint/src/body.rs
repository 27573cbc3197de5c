//! Reading a JSON body, for [`crate::VerifiedJson`]: it reads only once the token verified, so an
//! unauthenticated caller never gets the server to buffer or parse anything.
//!
//! Content type: the prototype read the body with `request.json()`, which ignores the header.
//! We accept a missing `Content-Type` and any JSON media type (`application/json`, with or without
//! parameters, and `application/*+json`), and refuse any other declared type with the plain 400:
//! a body declared as something else is "not JSON" in the contract's sense, and it keeps form
//! posts from being half-understood. `curl --data` without `-H 'content-type: application/json'`
//! sends a form type and is refused.

use axum::{
    body::Body,
    http::{Extensions, HeaderMap, header},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::{
    CiError,
    audit::{self, Refusal, RequestRecord},
};

/// The default body limit: 64 KiB, far above any real overrides request.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Overrides the body limit for an endpoint: `.layer(axum::Extension(BodyLimit(1 << 20)))` on its
/// router. Without it, [`DEFAULT_BODY_LIMIT`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Reads `request`'s body as [`crate::VerifiedJson`] does, without the token: for fuzzing the
/// body rules (endpoints take [`crate::VerifiedJson`]). Answers as [`read_json`].
pub async fn read_json_body<T: DeserializeOwned>(
    request: axum::extract::Request,
) -> Result<T, CiError> {
    let (parts, body) = request.into_parts();
    read_json(&parts.headers, &parts.extensions, body).await
}

/// Reads the request's body as JSON into `T` (for [`crate::VerifiedJson`]).
/// Too big: 413 `{"error":"payload_too_large"}` (judged from `Content-Length` before reading, and
/// while reading for chunked bodies). Not JSON, or not the shape of `T`: 400
/// `{"error":"bad_request"}`. Where the JSON went wrong (line and column, never the text, which may
/// hold the caller's values) goes to the request's log line, never to the caller.
pub(crate) async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    extensions: &Extensions,
    body: Body,
) -> Result<T, CiError> {
    let limit = extensions
        .get::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    let record = RequestRecord::of(extensions);
    let refuse = |refusal: Refusal, error| audit::refuse_in(record.as_ref(), refusal, error);
    if let Err(refusal) = check_content_type(headers) {
        return Err(refuse(refusal, CiError::bad_request()));
    }
    if declared_length(headers).is_some_and(|len| len > limit as u64) {
        return Err(CiError::PayloadTooLarge);
    }
    let bytes = read_limited(body, limit)
        .await
        .map_err(|(refusal, error)| refuse(refusal, error))?;
    serde_json::from_slice::<T>(&bytes).map_err(|error| {
        // serde's message may quote the body ("invalid type: string \"…\""): only its category
        // and position are kept.
        let refusal = Refusal {
            reason: "body_not_expected_json",
            check: Some("body"),
            actual: Some(format!(
                "{:?} error at line {} column {}",
                error.classify(),
                error.line(),
                error.column()
            )),
            ..Refusal::default()
        };
        refuse(refusal, CiError::bad_request())
    })
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let is_json = essence.as_deref().is_some_and(|e| {
        e == "application/json" || (e.starts_with("application/") && e.ends_with("+json"))
    });
    if is_json {
        Ok(())
    } else {
        Err(Refusal {
            reason: "body_not_json_content_type",
            check: Some("content-type"),
            expected: Some("application/json".to_owned()),
            actual: Some(format!("{value:?}")),
            ..Refusal::default()
        })
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, (Refusal, CiError)> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err((Refusal::named("body_too_large"), CiError::PayloadTooLarge))
        }
        Err(error) => {
            // A broken or aborted upload: the caller will not read the answer anyway.
            let refusal = Refusal {
                reason: "body_unreadable",
                actual: Some(error.to_string()),
                ..Refusal::default()
            };
            Err((refusal, CiError::bad_request()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn json_content_types() {
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
        ] {
            assert!(check_content_type(&with_type(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            let refusal = check_content_type(&with_type(bad)).expect_err(bad);
            assert_eq!(refusal.reason, "body_not_json_content_type", "{bad}");
        }
    }
}
