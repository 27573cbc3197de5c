//! The checks that run before `jsonwebtoken` sees a token: size, shape and the header allowlist.
//!
//! `jsonwebtoken` verifies the signature (its `decode` would also parse the header), but it is a
//! general library:
//! it accepts `jku`, `x5u`, `jwk` and `x5c` as informational parameters, honours
//! `crit: ["b64"]`, ignores duplicate header keys it does not know, and lets any algorithm
//! through that the caller lists. A verifier of GitHub tokens needs less, so this module refuses
//! everything GitHub never sends before any key is looked up: more than 16 KiB, anything but
//! three non-empty dot-separated segments, a header that is not canonical unpadded base64url of
//! one JSON object, a duplicate header key, `alg` other than exactly `RS256`, any key-location
//! or criticality parameter, a `typ` other than `JWT`, and a missing `kid`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::rejection::{MISSING, Rejection, RejectionKind, quoted};

/// Longest token accepted, in bytes. GitHub's tokens are ~1.5 KB; the cap bounds the work
/// an unauthenticated caller can ask for.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only algorithm accepted.
const ALG: &str = "RS256";

/// The protected header segment of `token` (still encoded), once size and shape are checked.
pub(crate) fn segment(token: &str) -> Result<&str, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(
            "token",
            "at most 16 KiB",
            format!("{} bytes", token.len()),
        ));
    }
    let segments = token.split('.').count();
    if segments != 3 {
        return Err(malformed(
            "token",
            "3 dot-separated segments (compact JWS)",
            format!("{segments} segments"),
        ));
    }
    let header = token.split('.').next().unwrap_or_default();
    if header.is_empty() {
        return Err(malformed("header", "a non-empty segment", "empty"));
    }
    Ok(header)
}

/// Refuses an empty payload or signature segment. Called after [`check`] so `alg: none` (empty
/// signature) is reported as an algorithm problem.
pub(crate) fn check_body(token: &str) -> Result<(), Rejection> {
    let mut parts = token.split('.').skip(1);
    match (parts.next(), parts.next()) {
        (Some(payload), Some(signature)) if !payload.is_empty() && !signature.is_empty() => Ok(()),
        _ => Err(malformed(
            "token",
            "3 non-empty segments",
            "an empty segment",
        )),
    }
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

/// Decodes and checks the protected header `segment`; returns its `kid`.
pub(crate) fn check(segment: &str) -> Result<String, Rejection> {
    // The engine refuses padding, characters outside the URL-safe alphabet and non-zero
    // trailing bits, so each header has exactly one encoding.
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| malformed("header", "unpadded base64url", e.to_string()))?;
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(malformed("header", "a JSON object", "not an object"));
    }
    // serde's derive refuses a duplicate of any field named above (`alg` twice is the classic
    // confusion between two parsers).
    let header: Header = serde_json::from_slice(&json).map_err(|e| {
        malformed(
            "header",
            "a JSON object of the expected shape",
            e.to_string(),
        )
    })?;
    if header.alg.as_deref() != Some(ALG) {
        return Err(Rejection::new(
            RejectionKind::Algorithm,
            "header.alg",
            quoted(Some(ALG)),
            quoted(header.alg.as_deref()),
        ));
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

fn malformed(check: &'static str, expected: &str, actual: impl Into<String>) -> Rejection {
    Rejection::new(RejectionKind::Malformed, check, expected, actual)
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

    /// The verifier's own sequence before any key is looked up.
    fn precheck(t: &str) -> Result<String, Rejection> {
        let kid = check(segment(t)?)?;
        check_body(t)?;
        Ok(kid)
    }

    fn kind(t: &str) -> RejectionKind {
        precheck(t).unwrap_err().kind
    }

    #[test]
    fn accepts_rs256_with_kid() {
        let t = token(r#"{"alg":"RS256","kid":"k","typ":"JWT","x5t":"abc"}"#);
        assert_eq!(precheck(&t).unwrap(), "k");
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
            // jsonwebtoken honours `crit: ["b64"]` (with `b64: true`); GitHub never sends it.
            (
                token(r#"{"alg":"RS256","kid":"k","b64":true,"crit":["b64"]}"#),
                ForbiddenHeader,
            ),
            // jsonwebtoken treats these as informational; a key location is never followed.
            (
                token(r#"{"alg":"RS256","kid":"k","x5u":"https://evil/x5u"}"#),
                ForbiddenHeader,
            ),
            (
                token(r#"{"alg":"RS256","kid":"k","typ":"JWT","kid":"other"}"#),
                Malformed,
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
            // Payload and signature encodings are the library's to decode (the rejection
            // table's "padded base64" and "standard-alphabet base64" rows).
            (format!("{}..{}", b64(good), b64("s")), Malformed),
            (format!(".{}.{}", b64("{}"), b64("s")), Malformed),
            ("a".repeat(MAX_TOKEN_LEN + 1), Malformed),
        ];
        for (t, k) in cases {
            assert_eq!(kind(&t), k, "{t}");
        }
    }
}
