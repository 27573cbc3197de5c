//! The registered JWT claims: `jsonwebtoken`'s validation, and the stricter rules around it.
//!
//! The library checks `iss`, `aud`, `exp` and `nbf` (with the leeway) on every token, and refuses
//! an `exp` or `nbf` that is not a number (the bug of versions before 10.3, CVE-2026-25537, was to
//! skip the check). What it does not do is done here, after it: `aud` must be one string (the
//! library accepts a list with one matching member, but a token minted for several relying
//! parties could be replayed here by any of them), `iat` is required and not in the future, and
//! `exp - iat` is bounded, so a misbehaving or impersonated issuer cannot mint long-lived tokens.

use std::collections::HashSet;

use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::github::GitHubClaims;
use crate::github::RawClaims;
use crate::rejection::{MISSING, Rejection, RejectionKind, quoted};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. GitHub's runners and
/// token service are NTP-synchronised; 60 s covers a drifting host without making an expired
/// token usable for long (GitHub tokens live 300 s).
pub const LEEWAY_SECS: i64 = 60;

/// Longest accepted `exp - iat`, in seconds. GitHub mints tokens that live 300 s; twice that
/// leaves room for GitHub to lengthen them a little while refusing long-lived tokens from a
/// misbehaving or impersonated issuer. (Generic verifiers such as Vault allow an hour because
/// they serve many issuers; this one serves GitHub Actions only.)
pub const MAX_LIFETIME_SECS: i64 = 600;

/// Time-check settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRules {
    /// See [`LEEWAY_SECS`].
    pub leeway: i64,
    /// See [`MAX_LIFETIME_SECS`].
    pub max_lifetime: i64,
}

impl Default for TimeRules {
    fn default() -> Self {
        Self {
            leeway: LEEWAY_SECS,
            max_lifetime: MAX_LIFETIME_SECS,
        }
    }
}

/// The library's validation for one issuer and audience: RS256 only, `iss`, `aud` and `exp`
/// required, `nbf` checked when present (off by the library's default).
pub(crate) fn validation(issuer: &str, audience: &str, rules: TimeRules) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = u64::try_from(rules.leeway).unwrap_or(0);
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.required_spec_claims = ["exp", "iss", "aud"]
        .into_iter()
        .map(String::from)
        .collect();
    v.iss = Some(HashSet::from([issuer.to_owned()]));
    v.aud = Some(HashSet::from([audience.to_owned()]));
    v
}

/// Names the failing check of a library error. `raw` is the payload, parsed only when the
/// signature verified (the library validates claims after the signature), to say what the
/// token carried.
pub(crate) fn rejection(
    err: &Error,
    raw: Option<&RawClaims>,
    issuer: &str,
    audience: &str,
) -> Rejection {
    use RejectionKind as K;
    let carried = |name: &str| raw.and_then(|r| r.registered(name)).map(|v| v.to_string());
    let actual = |name: &str| carried(name).unwrap_or_else(|| MISSING.to_owned());
    match err.kind() {
        ErrorKind::InvalidSignature => Rejection::new(
            K::Signature,
            "signature",
            "valid RS256 signature",
            "invalid",
        ),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            Rejection::new(K::Algorithm, "header.alg", quoted(Some("RS256")), "refused")
        }
        ErrorKind::ExpiredSignature => Rejection::new(
            K::Expired,
            "exp",
            "not past (leeway included)",
            actual("exp"),
        ),
        ErrorKind::ImmatureSignature => Rejection::new(
            K::NotYetValid,
            "nbf",
            "not in the future (leeway included)",
            actual("nbf"),
        ),
        ErrorKind::InvalidIssuer => {
            Rejection::new(K::Issuer, "iss", quoted(Some(issuer)), actual("iss"))
        }
        ErrorKind::InvalidAudience => {
            Rejection::new(K::Audience, "aud", quoted(Some(audience)), actual("aud"))
        }
        ErrorKind::MissingRequiredClaim(name) | ErrorKind::InvalidClaimFormat(name) => {
            let check = claim_name(name);
            // The library reports a present but non-numeric `exp` as missing: say what it is.
            match carried(check) {
                // `aud` present but neither a string nor a list of strings.
                Some(value) if check == "aud" => {
                    Rejection::new(K::Audience, "aud", quoted(Some(audience)), value)
                }
                Some(value) => {
                    let expected = match check {
                        "exp" | "nbf" => "a non-negative JSON number (NumericDate)",
                        _ => "a JSON string",
                    };
                    Rejection::new(K::Malformed, check, expected, value)
                }
                None => Rejection::new(K::MissingClaim, check, "present", MISSING),
            }
        }
        other => Rejection::new(K::Malformed, "token", "a well-formed JWS", describe(other)),
    }
}

/// Checks what the library leaves out (one-string `aud`, `iat`, lifetime) and returns the
/// typed claims. Runs only on tokens the library accepted.
pub(crate) fn check_around(
    mut raw: RawClaims,
    audience: &str,
    now: i64,
    rules: TimeRules,
) -> Result<GitHubClaims, Rejection> {
    let iss = raw.iss.take().ok_or_else(|| missing("iss"))?;
    let aud = match raw.aud.take() {
        Some(Value::String(aud)) => aud,
        // A list, even of our audience alone: the library accepted it, this rule does not.
        Some(other) => {
            return Err(Rejection::new(
                RejectionKind::Audience,
                "aud",
                quoted(Some(audience)),
                other.to_string(),
            ));
        }
        None => return Err(missing("aud")),
    };
    let exp = numeric_date("exp", raw.exp.as_ref())?.ok_or_else(|| missing("exp"))?;
    let iat = numeric_date("iat", raw.iat.as_ref())?.ok_or_else(|| missing("iat"))?;
    let nbf = numeric_date("nbf", raw.nbf.as_ref())?;
    let latest = now.saturating_add(rules.leeway);
    if iat > latest {
        return Err(Rejection::new(
            RejectionKind::IssuedInFuture,
            "iat",
            format!("<= {latest}"),
            iat.to_string(),
        ));
    }
    let lifetime = exp.saturating_sub(iat);
    if !(0..=rules.max_lifetime).contains(&lifetime) {
        return Err(Rejection::new(
            RejectionKind::Lifetime,
            "exp - iat",
            format!("0..={} s", rules.max_lifetime),
            format!("{lifetime} s"),
        ));
    }
    Ok(raw.into_claims(iss, aud, exp, iat, nbf))
}

fn missing(check: &'static str) -> Rejection {
    Rejection::new(RejectionKind::MissingClaim, check, "present", MISSING)
}

fn claim_name(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "claims",
    }
}

/// The library's error without its payload-derived text (serde messages quote input).
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Base64(_) => "invalid base64url".to_owned(),
        ErrorKind::Json(e) => format!("invalid JSON: {e}"),
        ErrorKind::Utf8(_) => "invalid UTF-8".to_owned(),
        other => format!("{other:?}"),
    }
}

/// A JSON number of seconds; fractions are truncated toward the past. Anything else is
/// malformed, never skipped.
fn numeric_date(check: &'static str, value: Option<&Value>) -> Result<Option<i64>, Rejection> {
    let Some(value) = value else {
        return Ok(None);
    };
    let secs = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    };
    match secs {
        Some(s) => Ok(Some(s)),
        None => Err(Rejection::new(
            RejectionKind::Malformed,
            check,
            "a JSON number (NumericDate)",
            value.to_string(),
        )),
    }
}
