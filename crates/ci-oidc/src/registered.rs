//! The registered JWT claims (`iss`, `aud`, `exp`, `nbf`, `iat`), checked in the one parse of the
//! payload that follows the signature check.
//!
//! `jsonwebtoken` checks the signature (`crypto::verify`, RS256 pinned by the caller, the key
//! parsed once: `crypto.rs`); its `decode` would also validate these claims, but only by
//! deserializing the payload a second time into its own struct beside ours, a third of the
//! verifier's cost above the RSA operation. So they are checked here, on the claims already
//! parsed, at least as strictly as the library does (its 12.0 `validation.rs`, the
//! CVE-2026-25537 fix included) and with what it leaves out:
//!
//! - `exp` required, a non-negative JSON number, not before `now - leeway` (the library's rule);
//! - `nbf`, when present, a non-negative JSON number, not after `now + leeway` (the library
//!   skips `nbf` by default; a string there is malformed, never skipped);
//! - `iss` required and exactly the configured issuer;
//! - `aud` required and one string equal to the endpoint's audience (the library accepts a list
//!   with one matching member, but a token minted for several relying parties could be replayed
//!   here by any of them);
//! - `iat` required and not in the future, and `exp - iat` bounded, so a misbehaving or
//!   impersonated issuer cannot mint long-lived tokens.
//!
//! The first failing check in that order is the one reported, as the library orders them:
//! presence and format first, then the times, then issuer and audience.

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

/// Checks the registered claims of a token whose signature verified and returns the typed
/// claims.
pub(crate) fn check(
    mut raw: RawClaims,
    issuer: &str,
    audience: &str,
    now: i64,
    rules: TimeRules,
) -> Result<GitHubClaims, Rejection> {
    let exp = non_negative_date("exp", raw.exp.as_ref())?.ok_or_else(|| missing("exp"))?;
    let nbf = non_negative_date("nbf", raw.nbf.as_ref())?;
    let iss = raw.iss.take().ok_or_else(|| missing("iss"))?;
    let aud = raw.aud.take().ok_or_else(|| missing("aud"))?;
    if exp < now.saturating_sub(rules.leeway) {
        return Err(Rejection::new(
            RejectionKind::Expired,
            "exp",
            "not past (leeway included)",
            exp.to_string(),
        ));
    }
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(rules.leeway)
    {
        return Err(Rejection::new(
            RejectionKind::NotYetValid,
            "nbf",
            "not in the future (leeway included)",
            nbf.to_string(),
        ));
    }
    if iss != issuer {
        return Err(Rejection::new(
            RejectionKind::Issuer,
            "iss",
            quoted(Some(issuer)),
            quoted(Some(&iss)),
        ));
    }
    let aud = match aud {
        Value::String(aud) if aud == audience => aud,
        // A list, even of our audience alone, or anything else.
        other => {
            return Err(Rejection::new(
                RejectionKind::Audience,
                "aud",
                quoted(Some(audience)),
                other.to_string(),
            ));
        }
    };
    let iat = numeric_date("iat", raw.iat.as_ref())?.ok_or_else(|| missing("iat"))?;
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

/// [`numeric_date`] for `exp` and `nbf`, which the library also refuses when negative.
fn non_negative_date(check: &'static str, value: Option<&Value>) -> Result<Option<i64>, Rejection> {
    match numeric_date(check, value)? {
        Some(secs) if secs < 0 => Err(Rejection::new(
            RejectionKind::Malformed,
            check,
            "a non-negative JSON number (NumericDate)",
            secs.to_string(),
        )),
        other => Ok(other),
    }
}
