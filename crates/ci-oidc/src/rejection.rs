//! Why a token was refused.
//!
//! A [`Rejection`] names the failing check, what the policy expected and what the token
//! carried, so the server log explains every 401/403 without anyone decoding tokens by hand.
//! It only ever holds claim and header values, never the token or its signature: those are
//! credentials, the claims are not. [`Rejection::reason`] maps the detail to the short,
//! stable reason of the HTTP contract (`invalid_token`, `repo_mismatch`, ...).

use std::fmt;

/// The class of a failed check.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// Not a compact JWS: segments, base64url, JSON shape, size, claim types.
    Malformed,
    /// `alg` is not `RS256` (including `none` and every HMAC algorithm).
    Algorithm,
    /// The header carries a key-location or criticality parameter (`jku`, `x5u`, `jwk`, `x5c`, `crit`).
    ForbiddenHeader,
    /// No key with the token's `kid`, even after the allowed refetch.
    UnknownKey,
    /// The key store has never loaded any key (issuer unreachable since start-up).
    KeysUnavailable,
    /// The RS256 signature does not verify.
    Signature,
    /// `iss` differs from the configured issuer.
    Issuer,
    /// `aud` is not exactly the endpoint's audience string.
    Audience,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `exp - iat` is negative or longer than the maximum lifetime.
    Lifetime,
    /// A registered claim the verifier needs (`iss`, `aud`, `exp`, `iat`) is absent.
    MissingClaim,
    /// `repository` is missing or not one of the policy's repositories.
    Repository,
    /// `repository_id` is missing or not pinned by the policy.
    RepositoryId,
    /// `repository_owner_id` is missing or not pinned by the policy.
    RepositoryOwnerId,
    /// The workflow claim does not name one of the policy's workflows at the token's ref or sha.
    Workflow,
    /// `event_name` is missing, denied by default, or not in the policy's allowlist.
    Event,
}

impl RejectionKind {
    /// Stable snake_case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::ForbiddenHeader => "forbidden_header",
            Self::UnknownKey => "unknown_key",
            Self::KeysUnavailable => "keys_unavailable",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Lifetime => "lifetime",
            Self::MissingClaim => "missing_claim",
            Self::Repository => "repository",
            Self::RepositoryId => "repository_id",
            Self::RepositoryOwnerId => "repository_owner_id",
            Self::Workflow => "workflow",
            Self::Event => "event",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The short reason of the HTTP contract; the first three are the prototype's.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Format, header, key, signature, issuer, audience or time failure.
    InvalidToken,
    /// `repository` missing or not allowed (answered with 403 and this reason).
    RepoMismatch,
    /// The workflow claim does not match the policy.
    WorkflowMismatch,
    /// `repository_id` / `repository_owner_id` pin not satisfied.
    IdMismatch,
    /// The triggering event is not allowed.
    EventNotAllowed,
    /// The issuer's keys could not be loaded.
    KeysUnavailable,
}

impl Reason {
    /// The wire form, e.g. `repo_mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::RepoMismatch => "repo_mismatch",
            Self::WorkflowMismatch => "workflow_mismatch",
            Self::IdMismatch => "id_mismatch",
            Self::EventNotAllowed => "event_not_allowed",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused token: which check failed, what was expected, what the token carried.
///
/// `expected` and `actual` hold policy and claim values only (for example
/// `aud: expected "https://a" actual ["https://a","https://b"]`). Absent values are written
/// as `<missing>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The class of failure.
    pub kind: RejectionKind,
    /// The check or claim that failed, e.g. `aud`, `header.alg`, `workflow_ref`.
    pub check: &'static str,
    /// What the policy or the verifier expected.
    pub expected: String,
    /// What the token carried.
    pub actual: String,
}

/// Written in `expected` / `actual` when a value is absent.
pub(crate) const MISSING: &str = "<missing>";

impl Rejection {
    /// Builds a rejection.
    pub fn new(
        kind: RejectionKind,
        check: &'static str,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            check,
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    /// The reason of the HTTP contract for this rejection.
    pub fn reason(&self) -> Reason {
        match self.kind {
            RejectionKind::Repository => Reason::RepoMismatch,
            RejectionKind::Workflow => Reason::WorkflowMismatch,
            RejectionKind::RepositoryId | RejectionKind::RepositoryOwnerId => Reason::IdMismatch,
            RejectionKind::Event => Reason::EventNotAllowed,
            RejectionKind::KeysUnavailable => Reason::KeysUnavailable,
            RejectionKind::Malformed
            | RejectionKind::Algorithm
            | RejectionKind::ForbiddenHeader
            | RejectionKind::UnknownKey
            | RejectionKind::Signature
            | RejectionKind::Issuer
            | RejectionKind::Audience
            | RejectionKind::Expired
            | RejectionKind::NotYetValid
            | RejectionKind::IssuedInFuture
            | RejectionKind::Lifetime
            | RejectionKind::MissingClaim => Reason::InvalidToken,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token rejected ({}): {}: expected {}, actual {}",
            self.kind, self.check, self.expected, self.actual
        )
    }
}

impl std::error::Error for Rejection {}

/// Quotes a claim value for `expected` / `actual`, or writes [`MISSING`].
pub(crate) fn quoted(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => MISSING.to_owned(),
    }
}
