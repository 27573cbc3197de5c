//! Checks of the registered JWT claims: `iss`, `aud`, `exp`, `iat`, `nbf`.
//!
//! Times must be JSON numbers: a verifier that skips a time check when `exp` is a string
//! (jsonwebtoken before 10.3, CVE-2026-25537) accepts tokens that never expire. `aud` must be
//! one string: a list, even one containing our audience, means the token was minted for
//! several relying parties and any of them could replay it here.

use serde_json::Value;

use crate::github::GitHubClaims;
use crate::github::claims::RawClaims;
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

/// Checks the registered claims and returns the typed claims.
pub(crate) fn check_registered(
    mut raw: RawClaims,
    issuer: &str,
    audience: &str,
    now: i64,
    rules: TimeRules,
) -> Result<GitHubClaims, Rejection> {
    let iss = match raw.iss.take() {
        None => return Err(missing("iss", issuer)),
        Some(iss) if iss != issuer => {
            return Err(Rejection::new(
                RejectionKind::Issuer,
                "iss",
                quoted(Some(issuer)),
                quoted(Some(&iss)),
            ));
        }
        Some(iss) => iss,
    };
    let aud = match raw.aud.take() {
        None => return Err(missing("aud", audience)),
        Some(Value::String(aud)) if aud == audience => aud,
        Some(other) => {
            return Err(Rejection::new(
                RejectionKind::Audience,
                "aud",
                quoted(Some(audience)),
                other.to_string(),
            ));
        }
    };
    let exp =
        numeric_date("exp", raw.exp.as_ref())?.ok_or_else(|| missing("exp", "a NumericDate"))?;
    let iat =
        numeric_date("iat", raw.iat.as_ref())?.ok_or_else(|| missing("iat", "a NumericDate"))?;
    let nbf = numeric_date("nbf", raw.nbf.as_ref())?;

    if now > exp.saturating_add(rules.leeway) {
        return Err(time(
            RejectionKind::Expired,
            "exp",
            format!("> {}", now.saturating_sub(rules.leeway)),
            exp,
        ));
    }
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(rules.leeway)
    {
        return Err(time(
            RejectionKind::NotYetValid,
            "nbf",
            format!("<= {}", now.saturating_add(rules.leeway)),
            nbf,
        ));
    }
    if iat > now.saturating_add(rules.leeway) {
        return Err(time(
            RejectionKind::IssuedInFuture,
            "iat",
            format!("<= {}", now.saturating_add(rules.leeway)),
            iat,
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

fn missing(check: &'static str, expected: &str) -> Rejection {
    Rejection::new(RejectionKind::MissingClaim, check, expected, MISSING)
}

fn time(kind: RejectionKind, check: &'static str, expected: String, actual: i64) -> Rejection {
    Rejection::new(kind, check, expected, actual.to_string())
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
