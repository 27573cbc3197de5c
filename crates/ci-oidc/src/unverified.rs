//! Strict parsing of a compact JWS before anything is trusted.
//!
//! Only what is needed to pick the key and check the signature is read here: the header (as
//! JSON) and the raw bytes of the payload and signature. The payload is parsed as JSON only
//! after the signature verified. Parsing is strict where laxness has bitten other verifiers:
//! exactly three segments, unpadded base64url with no stray characters or non-canonical trailing
//! bits, header and payload JSON objects (not arrays, which serde would happily read into a
//! struct), duplicate header keys refused, `alg` pinned to `RS256`, and no header parameter that
//! points at a key (`jku`, `x5u`, `jwk`, `x5c`) or demands extensions (`crit`).

use std::borrow::Cow;
use std::cell::RefCell;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::rejection::{MISSING, Rejection, RejectionKind, quoted};

/// Longest token accepted, in bytes. GitHub's tokens are ~1.5 KB; the cap bounds the work
/// an unauthenticated caller can ask for.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only algorithm accepted.
pub const ALG: &str = "RS256";

/// Largest signature accepted: RSA-8192, the verification algorithm's own bound.
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// The three segments of a compact JWS, still encoded.
#[derive(Debug, Clone, Copy)]
pub struct Segments<'a> {
    /// The protected header, base64url.
    pub header: &'a str,
    /// The payload, base64url.
    pub payload: &'a str,
    /// The signature, base64url.
    pub signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
}

/// A compact JWS split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    /// `kid` of the header.
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded payload (JSON, untrusted).
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    jku: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    jwk: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    crit: Option<IgnoredAny>,
}

fn malformed(check: &'static str, expected: &str, actual: impl Into<String>) -> Rejection {
    Rejection::new(RejectionKind::Malformed, check, expected, actual)
}

fn decode(check: &'static str, segment: &str) -> Result<Vec<u8>, Rejection> {
    // The base64 engine refuses padding, characters outside the URL-safe alphabet and
    // non-zero trailing bits, so each token has exactly one encoding.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| malformed(check, "unpadded base64url", e.to_string()))
}

/// Parses `json` as a JSON object into `T`; an array or scalar is refused.
pub(crate) fn json_object<'de, T: Deserialize<'de>>(
    check: &'static str,
    json: &'de [u8],
) -> Result<T, Rejection> {
    let first = json.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(malformed(check, "a JSON object", "not an object"));
    }
    // Validating UTF-8 in one pass and parsing from `&str` is faster than letting serde_json
    // validate string by string.
    let text =
        std::str::from_utf8(json).map_err(|e| malformed(check, "UTF-8 JSON", e.to_string()))?;
    serde_json::from_str(text)
        .map_err(|e| malformed(check, "a JSON object of the expected shape", e.to_string()))
}

/// Splits and decodes `token`, checking the header; the signature is not checked here.
pub fn parse(token: &str) -> Result<UnverifiedToken<'_>, Rejection> {
    let segments = split(token)?;
    let kid = parse_header(segments.header)?;
    let (payload, signature) = decode_body(&segments)?;
    Ok(UnverifiedToken {
        kid,
        signing_input: segments.signing_input,
        payload,
        signature,
    })
}

/// Splits `token` into exactly three segments (header checked non-empty).
pub fn split(token: &str) -> Result<Segments<'_>, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(
            "token",
            "at most 16 KiB",
            format!("{} bytes", token.len()),
        ));
    }
    let segments = token.split_once('.').and_then(|(header, rest)| {
        let (payload, signature) = rest.split_once('.')?;
        (!signature.contains('.')).then_some((header, payload, signature))
    });
    let Some((header, payload, signature)) = segments else {
        let n = token.split('.').count();
        return Err(malformed(
            "token",
            "3 dot-separated segments (compact JWS)",
            format!("{n} segments"),
        ));
    };
    if header.is_empty() {
        return Err(malformed("header", "a non-empty segment", "empty"));
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
    })
}

/// Decodes and checks the protected header; returns its `kid`.
pub fn parse_header(segment: &str) -> Result<String, Rejection> {
    let header_json = decode("header", segment)?;
    let header: Header = json_object("header", &header_json)?;
    match header.alg.as_deref() {
        Some(ALG) => {}
        other => {
            return Err(Rejection::new(
                RejectionKind::Algorithm,
                "header.alg",
                quoted(Some(ALG)),
                quoted(other),
            ));
        }
    }
    let forbidden = [
        ("header.jku", header.jku.is_some()),
        ("header.x5u", header.x5u.is_some()),
        ("header.jwk", header.jwk.is_some()),
        ("header.x5c", header.x5c.is_some()),
        ("header.crit", header.crit.is_some()),
    ];
    if let Some((check, _)) = forbidden.into_iter().find(|(_, present)| *present) {
        return Err(Rejection::new(
            RejectionKind::ForbiddenHeader,
            check,
            MISSING,
            "present",
        ));
    }
    if let Some(typ) = header.typ.as_deref()
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(malformed(
            "header.typ",
            "\"JWT\" or absent",
            quoted(Some(typ)),
        ));
    }
    match header.kid {
        Some(kid) if !kid.is_empty() => Ok(kid.into_owned()),
        other => Err(malformed(
            "header.kid",
            "a non-empty key id",
            quoted(other.as_deref()),
        )),
    }
}

/// Decodes payload and signature. Called after the header so `alg: none` (empty signature)
/// is reported as an algorithm problem.
pub fn decode_body(segments: &Segments<'_>) -> Result<(Vec<u8>, Vec<u8>), Rejection> {
    check_body_present(segments)?;
    Ok((
        decode("payload", segments.payload)?,
        decode("signature", segments.signature)?,
    ))
}

/// Refuses an empty payload or signature segment.
pub fn check_body_present(segments: &Segments<'_>) -> Result<(), Rejection> {
    if segments.payload.is_empty() || segments.signature.is_empty() {
        return Err(malformed(
            "token",
            "3 non-empty segments",
            "an empty segment",
        ));
    }
    Ok(())
}

/// Decodes the signature into the caller's buffer (on its stack: no allocation per request).
pub fn decode_signature_into<'b>(
    segment: &str,
    buf: &'b mut [u8; MAX_SIGNATURE_LEN],
) -> Result<&'b [u8], Rejection> {
    let len = URL_SAFE_NO_PAD.decode_slice(segment, buf).map_err(|e| {
        malformed(
            "signature",
            "unpadded base64url of at most 1024 bytes",
            e.to_string(),
        )
    })?;
    Ok(&buf[..len])
}

thread_local! {
    /// Reused decode buffer for payloads: one allocation per thread instead of one per
    /// request. It only ever holds claims of a token whose signature verified.
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes the payload segment and parses it as a JSON object into `T`.
pub fn parse_payload<T: DeserializeOwned>(segment: &str) -> Result<T, Rejection> {
    PAYLOAD.with(|cell| {
        let Ok(mut buf) = cell.try_borrow_mut() else {
            return json_object("claims", &decode("payload", segment)?);
        };
        let needed = base64::decoded_len_estimate(segment.len());
        if buf.len() < needed {
            buf.resize(needed, 0);
        }
        let len = URL_SAFE_NO_PAD
            .decode_slice(segment, &mut buf[..])
            .map_err(|e| malformed("payload", "unpadded base64url", e.to_string()))?;
        json_object("claims", &buf[..len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"))
    }

    fn kind(t: &str) -> RejectionKind {
        parse(t).unwrap_err().kind
    }

    #[test]
    fn accepts_rs256_with_kid() {
        let t = token(r#"{"alg":"RS256","kid":"k","typ":"JWT","x5t":"abc"}"#);
        let u = parse(&t).unwrap();
        assert_eq!(u.kid, "k");
        assert_eq!(u.signature, b"sig");
        assert_eq!(u.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn refuses() {
        use RejectionKind::*;
        let good = r#"{"alg":"RS256","kid":"k"}"#;
        let cases = [
            (token(r#"{"alg":"none","kid":"k"}"#), Algorithm),
            (
                format!("{}.{}.", b64(r#"{"alg":"none","kid":"k"}"#), b64("{}")),
                Algorithm,
            ),
            (format!("{}.{}.", b64(good), b64("{}")), Malformed),
            (token(r#"{"alg":"HS256","kid":"k"}"#), Algorithm),
            (token(r#"{"alg":"rs256","kid":"k"}"#), Algorithm),
            (token(r#"{"kid":"k"}"#), Algorithm),
            (
                token(r#"{"alg":"RS256","kid":"k","jku":"https://evil"}"#),
                ForbiddenHeader,
            ),
            (
                token(r#"{"alg":"RS256","kid":"k","jwk":{}}"#),
                ForbiddenHeader,
            ),
            (
                token(r#"{"alg":"RS256","kid":"k","x5u":"x"}"#),
                ForbiddenHeader,
            ),
            (
                token(r#"{"alg":"RS256","kid":"k","x5c":["x"]}"#),
                ForbiddenHeader,
            ),
            (
                token(r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#),
                ForbiddenHeader,
            ),
            (token(r#"{"alg":"RS256"}"#), Malformed),
            (token(r#"{"alg":"RS256","kid":""}"#), Malformed),
            (
                token(r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#),
                Malformed,
            ),
            (
                token(r#"{"alg":"RS256","alg":"none","kid":"k"}"#),
                Malformed,
            ),
            (token(r#"["RS256","k"]"#), Malformed),
            (format!("{}.{}", b64(good), b64("{}")), Malformed),
            (
                format!("{}.{}.{}.x", b64(good), b64("{}"), b64("s")),
                Malformed,
            ),
            (
                format!("{}=.{}.{}", b64(good), b64("{}"), b64("s")),
                Malformed,
            ),
            (
                format!("{}.{}.{}==", b64(good), b64("{}"), b64("s")),
                Malformed,
            ),
            (
                format!("{}.{}.{}", b64(good), b64("{}"), "c2ln+/"),
                Malformed,
            ),
            (format!("{}..{}", b64(good), b64("s")), Malformed),
            ("a".repeat(MAX_TOKEN_LEN + 1), Malformed),
        ];
        for (t, k) in cases {
            assert_eq!(kind(&t), k, "{t}");
        }
    }
}
