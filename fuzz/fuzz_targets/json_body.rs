//! The request-body rules (`ci_endpoint::VerifiedJson`'s reading, through
//! `ci_endpoint::server::read_json_body`) on arbitrary bodies and headers.
//! Input: four control bytes (content type, content length, body limit, chunking), then the body.
//!
//! The answer must be exactly what the contract says, decided here from first principles: a
//! declared non-JSON content type is 400; a declared or actual length over the limit is 413; a
//! body that is not the expected JSON is 400; anything else is parsed, to the same value
//! serde_json gives. No other error, and no panic.
#![no_main]

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use bytes::Bytes;
use ci_endpoint::{BodyLimit, CiError, DEFAULT_BODY_LIMIT, server::read_json_body};
use fuzz_support::exec;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const CONTENT_TYPES: &[Option<&[u8]>] = &[
    None,
    Some(b"application/json"),
    Some(b"Application/JSON; charset=utf-8"),
    Some(b"application/vnd.api+json"),
    Some(b"  application/json  ;"),
    Some(b"text/plain"),
    Some(b"application/x-www-form-urlencoded"),
    Some(b"multipart/form-data; boundary=x"),
    Some(b""),
    Some(b"application/"),
    Some(b"application/+json"),
    Some(b"application/json\xff"),
    Some(b"json"),
];

/// The endpoint's body shape (`flags/encrypt-override`).
#[derive(Debug, PartialEq, Deserialize)]
struct Flags {
    flags: Map<String, Value>,
}

fuzz_target!(|data: &[u8]| {
    let [ct, cl, limit, chunk, body @ ..] = data else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    let limit = match *limit {
        0 => None,
        n => Some(usize::from(n)),
    };
    let content_length: Option<String> = match cl % 8 {
        0 => None,
        1 => Some(body.len().to_string()),
        2 => Some("0".into()),
        3 => Some((limit.unwrap_or(DEFAULT_BODY_LIMIT) + 1).to_string()),
        4 => Some(u64::MAX.to_string()),
        5 => Some("+1".into()),
        6 => Some("-1".into()),
        _ => Some("twelve".into()),
    };
    let request = || {
        let mut builder = Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type
            && let Ok(value) = HeaderValue::from_bytes(ct)
        {
            builder = builder.header(header::CONTENT_TYPE, value);
        }
        if let Some(cl) = &content_length {
            builder = builder.header(header::CONTENT_LENGTH, cl.as_str());
        }
        let body = match *chunk {
            0 => Body::from(Bytes::copy_from_slice(body)),
            n => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = body
                    .chunks(usize::from(n))
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                Body::from_stream(futures_util::stream::iter(chunks))
            }
        };
        let mut request = builder.body(body).expect("request");
        if let Some(limit) = limit {
            request.extensions_mut().insert(BodyLimit(limit));
        }
        request
    };
    let expected = Expected {
        content_type,
        content_length: content_length.as_deref(),
        limit: limit.unwrap_or(DEFAULT_BODY_LIMIT),
        body,
    };
    expected.check::<Value>(exec::run(read_json_body::<Value>(request())));
    expected.check::<Flags>(exec::run(read_json_body::<Flags>(request())));
});

struct Expected<'a> {
    content_type: Option<&'a [u8]>,
    content_length: Option<&'a str>,
    limit: usize,
    body: &'a [u8],
}

impl Expected<'_> {
    fn check<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
        &self,
        got: Result<T, CiError>,
    ) {
        let json_type = match self.content_type {
            None => true,
            Some(raw) => std::str::from_utf8(raw).is_ok_and(|s| {
                let visible = s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
                let essence = s
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                visible
                    && (essence == "application/json"
                        || (essence.starts_with("application/") && essence.ends_with("+json")))
            }),
        };
        let declared_over = self
            .content_length
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > self.limit as u64);
        let want: Result<T, CiError> = if !json_type {
            Err(CiError::bad_request())
        } else if declared_over || self.body.len() > self.limit {
            Err(CiError::PayloadTooLarge)
        } else {
            serde_json::from_slice(self.body).map_err(|_| CiError::bad_request())
        };
        match (got, want) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "parsed value differs from serde_json's"),
            (Err(a), Err(b)) => assert_eq!(a, b, "wrong refusal"),
            (got, want) => panic!("extractor gave {got:?}, contract says {want:?}"),
        }
    }
}
