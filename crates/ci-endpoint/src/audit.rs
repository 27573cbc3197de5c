//! What a request leaves in the log: exactly one line per endpoint request, written by the kit
//! when the answer is ready, so no handler writes "request refused" or "issued" lines of its own
//! and a log drain finds every call by one filter.
//!
//! - A verified caller's request (the token passed every check) leaves one **audit line** at INFO,
//!   target [`AUDIT_TARGET`], message `audit`, whose fields are named as the claims are:
//!   `endpoint`, `result` (`ok`, `refused` for a 4xx, `failed` for a 5xx), `status`, `reason` (the
//!   named reason of a refusal), `repository`, `repository_id`, `repository_owner_id`,
//!   `workflow_ref`, `job_workflow_ref`, `event_name`, `actor`, `run_id`, `run_attempt`, `sha`,
//!   `jti_sha256` (the SHA-256 of the token's `jti`, never the token) and `summary`, the endpoint's
//!   own `key=value` facts ([`crate::VerifiedCaller::summarize`]). A claim the token lacks is
//!   left out of the line.
//! - Any other request leaves one **refusal line** at WARN, `request refused`, with `status`,
//!   `error` (the contract's error, e.g. `unauthorized`), `reason` (why, named: `no_token`,
//!   `repo_mismatch`, `replay`, …) and, for a token check, `kind`, `check`, `expected` and
//!   `actual` (claim values, never the token).
//!
//! The kit's checks record their reason in the request's [`RequestRecord`] instead of logging it,
//! and a handler returns a [`crate::CiError`]: the line is written once, in the request's span.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::http::{Extensions, Response};
use ci_oidc::GitHubClaims;

use crate::CiError;

/// The `tracing` target of the audit line (filter with `RUST_LOG=ci_audit=info`, or on the JSON
/// line's `target`).
pub const AUDIT_TARGET: &str = "ci_audit";

/// A value of an audit summary. Numbers, booleans and words fixed at compile time only: the
/// summary is where an endpoint says *how much* it did, never *what* (no flag values, no cookies,
/// no text from the request), and the type makes that the easy way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryValue {
    /// A count, a size, a lifetime in seconds.
    Number(i128),
    /// A yes/no fact (e.g. `dry_run=true`).
    Bool(bool),
    /// A word chosen by the endpoint's own code (e.g. `mode=dry_run`).
    Word(&'static str),
}

macro_rules! summary_numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for SummaryValue {
            fn from(value: $t) -> Self {
                SummaryValue::Number(i128::from(value))
            }
        }
    )*};
}
summary_numbers!(u8, u16, u32, u64, i8, i16, i32, i64);

impl From<usize> for SummaryValue {
    fn from(value: usize) -> Self {
        // usize is at most 64 bits on every target Rust supports.
        SummaryValue::Number(i128::try_from(value).unwrap_or(i128::MAX))
    }
}

impl From<bool> for SummaryValue {
    fn from(value: bool) -> Self {
        SummaryValue::Bool(value)
    }
}

impl From<&'static str> for SummaryValue {
    fn from(value: &'static str) -> Self {
        SummaryValue::Word(value)
    }
}

impl std::fmt::Display for SummaryValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummaryValue::Number(n) => write!(f, "{n}"),
            SummaryValue::Bool(b) => write!(f, "{b}"),
            SummaryValue::Word(w) => f.write_str(w),
        }
    }
}

/// Why the kit refused a request, as its checks found it: the named reason and, for a token
/// check, which check and the values involved (claim values only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusal {
    pub(crate) reason: &'static str,
    pub(crate) kind: Option<&'static str>,
    pub(crate) check: Option<&'static str>,
    pub(crate) expected: Option<String>,
    pub(crate) actual: Option<String>,
}

impl Refusal {
    pub(crate) fn named(reason: &'static str) -> Refusal {
        Refusal {
            reason,
            ..Refusal::default()
        }
    }
}

/// The contract's error and named reason of an answer, attached by `CiError`'s `IntoResponse` so
/// the request's line can name them whichever extractor or handler produced the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered {
    pub(crate) error: &'static str,
    pub(crate) reason: Option<&'static str>,
}

/// One request's facts, shared between the span middleware (which writes the line) and the
/// extractors and handler (which fill it in). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestRecord(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Set once the token verified: the claims for the audit line, `None` when the log filter
    /// drops that line (a copy of thirty claims per request for nothing).
    caller: OnceLock<Option<GitHubClaims>>,
    summary: Mutex<Vec<(&'static str, SummaryValue)>>,
    refusal: Mutex<Option<Refusal>>,
}

impl RequestRecord {
    /// The record of the request whose extensions these are, if it runs inside the kit's span.
    pub(crate) fn of(extensions: &Extensions) -> Option<RequestRecord> {
        extensions.get::<RequestRecord>().cloned()
    }

    pub(crate) fn verified(&self, claims: &GitHubClaims) {
        let _ = self.0.caller.set(audit_enabled().then(|| claims.clone()));
    }

    pub(crate) fn summarize(&self, key: &'static str, value: SummaryValue) {
        let mut summary = self
            .0
            .summary
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match summary.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => summary.push((key, value)),
        }
    }

    fn refused(&self, refusal: Refusal) {
        let mut slot = self
            .0
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The first check to refuse is the reason; a later one only follows from it.
        slot.get_or_insert(refusal);
    }

    /// Writes the request's one line, once its answer is known.
    pub(crate) fn write<B>(&self, endpoint: &'static str, response: &Response<B>) {
        let status = response.status().as_u16();
        let answered = response.extensions().get::<Answered>().copied();
        let refusal = self
            .0
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match self.0.caller.get() {
            Some(Some(claims)) => self.write_audit(endpoint, status, answered, refusal, claims),
            // A verified caller whose audit line the filter drops: no refusal line instead.
            Some(None) => {}
            None => write_refusal(status, answered, refusal),
        }
    }

    fn write_audit(
        &self,
        endpoint: &'static str,
        status: u16,
        answered: Option<Answered>,
        refusal: Option<Refusal>,
        claims: &GitHubClaims,
    ) {
        let result = match status {
            200..=399 => "ok",
            400..=499 => "refused",
            _ => "failed",
        };
        let reason = (result != "ok").then(|| reason_of(status, answered, refusal.as_ref()));
        let summary = {
            let summary = self
                .0
                .summary
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            summary
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let jti_sha256 = claims.jti.as_deref().map(sha256_hex);
        let refusal = refusal.unwrap_or_default();
        tracing::info!(
            target: AUDIT_TARGET,
            endpoint,
            result,
            status,
            reason,
            repository = claims.repository.as_deref(),
            repository_id = claims.repository_id.as_deref(),
            repository_owner_id = claims.repository_owner_id.as_deref(),
            workflow_ref = claims.workflow_ref.as_deref(),
            job_workflow_ref = claims.job_workflow_ref.as_deref(),
            event_name = claims.event_name.as_deref(),
            actor = claims.actor.as_deref(),
            run_id = claims.run_id.as_deref(),
            run_attempt = claims.run_attempt.as_deref(),
            sha = claims.sha.as_deref(),
            jti_sha256 = jti_sha256.as_deref(),
            summary = summary.as_str(),
            check = refusal.check,
            actual = refusal.actual.as_deref().map(tracing::field::display),
            "audit"
        );
    }
}

fn write_refusal(status: u16, answered: Option<Answered>, refusal: Option<Refusal>) {
    let error = answered.map_or_else(|| status_word(status), |a| a.error);
    let reason = reason_of(status, answered, refusal.as_ref());
    let refusal = refusal.unwrap_or_default();
    // A 5xx is ours to fix (a missing secret, a store that cannot answer): an operator's alert.
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                status,
                error,
                reason,
                kind = refusal.kind,
                check = refusal.check,
                expected = refusal.expected.as_deref().map(tracing::field::display),
                actual = refusal.actual.as_deref().map(tracing::field::display),
                "request refused"
            )
        };
    }
    if status >= 500 {
        line!(error);
    } else {
        line!(warn);
    }
}

/// The most specific name for why the answer is not a success: the kit's check, else the
/// answer's own reason, else its error (or, for an answer the kit did not make, its status).
fn reason_of(status: u16, answered: Option<Answered>, refusal: Option<&Refusal>) -> &'static str {
    refusal
        .map(|r| r.reason)
        .or_else(|| answered.and_then(|a| a.reason))
        .or_else(|| answered.map(|a| a.error))
        .unwrap_or_else(|| status_word(status))
}

/// A name for a status the kit's own errors do not produce (e.g. axum's 405 for a wrong method).
fn status_word(status: u16) -> &'static str {
    match status {
        404 => "not_found",
        405 => "method_not_allowed",
        400..=499 => "client_error",
        _ => "server_error",
    }
}

/// Records why the kit refuses this request (or, outside the kit's span, logs it right away) and
/// gives back the answer to return.
pub(crate) fn refuse(extensions: &Extensions, refusal: Refusal, error: CiError) -> CiError {
    refuse_in(RequestRecord::of(extensions).as_ref(), refusal, error)
}

/// [`refuse`] for a request whose record was taken before its extensions went away.
pub(crate) fn refuse_in(
    record: Option<&RequestRecord>,
    refusal: Refusal,
    error: CiError,
) -> CiError {
    match record {
        Some(record) => record.refused(refusal),
        None => tracing::warn!(
            status = error.status().as_u16(),
            reason = refusal.reason,
            kind = refusal.kind,
            check = refusal.check,
            expected = refusal.expected.as_deref().map(tracing::field::display),
            actual = refusal.actual.as_deref().map(tracing::field::display),
            "request refused"
        ),
    }
    error
}

/// Whether the log filter lets the audit line through.
fn audit_enabled() -> bool {
    tracing::enabled!(target: AUDIT_TARGET, tracing::Level::INFO)
}

fn sha256_hex(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = ci_oidc::sha256(text.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}
