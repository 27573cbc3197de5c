//! Strict parsing of a compact JWS before anything is trusted.
//!
//! Only what is needed to pick the key and check the signature is read here: the header (as
//! JSON) and the raw bytes of the payload and signature. The payload is parsed as JSON only
//! after the signature verified. Parsing is strict where laxness has bitten other verifiers:
//! exactly three segments, unpadded base64url with no stray characters or non-canonical trailing
//! bits, header and payload JSON objects (not arrays, which serde would happily read into a
//! struct), duplicate header keys refused, `alg` pinned to `RS256`, and no header parameter that
//! points at a key (`jku`, `x5u`, `jwk`, `x5c`) or demands extensions (`crit`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::rejection::{MISSING, Rejection, RejectionKind, quoted};

/// Longest token accepted, in bytes. GitHub's tokens are ~1.5 KB; the cap bounds the work
/// an unauthenticated caller can ask for.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only algorithm accepted.
pub const ALG: &str = "RS256";

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
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
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
    serde_json::from_slice(json)
        .map_err(|e| malformed(check, "a JSON object of the expected shape", e.to_string()))
}

/// Splits and decodes `token`, checking the header; the signature is not checked here.
pub fn parse(token: &str) -> Result<UnverifiedToken<'_>, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(
            "token",
            "at most 16 KiB",
            format!("{} bytes", token.len()),
        ));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let n = token.split('.').count();
        return Err(malformed(
            "token",
            "3 dot-separated segments (compact JWS)",
            format!("{n} segments"),
        ));
    };
    if h.is_empty() {
        return Err(malformed("header", "a non-empty segment", "empty"));
    }
    let header_json = decode("header", h)?;
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
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() => kid,
        other => {
            return Err(malformed(
                "header.kid",
                "a non-empty key id",
                quoted(other.as_deref()),
            ));
        }
    };
    // Checked after the header so `alg: none` (empty signature) is reported as an algorithm.
    if p.is_empty() || s.is_empty() {
        return Err(malformed(
            "token",
            "3 non-empty segments",
            "an empty segment",
        ));
    }
    let payload = decode("payload", p)?;
    let signature = decode("signature", s)?;
    Ok(UnverifiedToken {
        kid,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        payload,
        signature,
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
