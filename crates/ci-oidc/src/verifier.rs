//! The verifier: token + endpoint policy in, typed claims or a [`Rejection`] out.
//!
//! Order of checks: size, shape and header allowlist (`header.rs`) → key → `jsonwebtoken`'s RS256
//! signature check (`crypto::verify`, the algorithm pinned here, never read from the token) →
//! the registered claims (`iss`, `aud`, `exp`, `nbf`, `iat`, lifetime: `registered.rs`), checked
//! in the one parse of the payload → repository → id pins → workflow → event. Nothing in the
//! payload is decoded before the signature verified (one exception, which decides no acceptance:
//! a token with an unknown `kid` inside the armed refetch cooldown has its claims screened to
//! decide whether a bounded rotation probe may fetch the keys, see `Verifier::would_pass`), and
//! the first failing check is the one reported. Times are the system clock's, so tests mint tokens relative to the current time.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;

use crate::github::{GitHubClaims, RawClaims, check_policy};
use crate::header;
use crate::header_cache::HeaderCache;
use crate::keystore::KeyStore;
use crate::policy::EndpointPolicy;
use crate::registered::{self, TimeRules};
use crate::rejection::{Rejection, RejectionKind};
use crate::secret::SecretString;

/// Verifies GitHub Actions OIDC tokens of one issuer. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    keys: KeyStore,
    rules: TimeRules,
    headers: HeaderCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("keys", &self.inner.keys)
            .field("rules", &self.inner.rules)
            .finish()
    }
}

impl Verifier {
    /// A verifier for tokens whose `iss` is exactly `issuer_url`, signed by a key of `keys`.
    /// Leeway [`crate::LEEWAY_SECS`], maximum lifetime [`crate::MAX_LIFETIME_SECS`].
    pub fn new(issuer_url: impl Into<String>, keys: KeyStore) -> Verifier {
        Self::with_rules(issuer_url, keys, TimeRules::default())
    }

    /// Like [`Verifier::new`] with other time rules.
    pub fn with_rules(issuer_url: impl Into<String>, keys: KeyStore, rules: TimeRules) -> Verifier {
        Verifier {
            inner: Arc::new(Inner {
                issuer: issuer_url.into(),
                keys,
                rules,
                headers: HeaderCache::default(),
            }),
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The key store.
    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// The time rules; a replay store keeps a `jti` until `exp` plus this leeway has passed.
    pub fn rules(&self) -> TimeRules {
        self.inner.rules
    }

    /// Verifies `token` against `policy` at the current time.
    pub async fn verify(
        &self,
        token: &SecretString,
        policy: &EndpointPolicy,
    ) -> Result<GitHubClaims, Rejection> {
        let token = token.expose_secret();
        let segment = header::segment(token)?;
        let cached_kid = self.inner.headers.kid(segment);
        let kid = match &cached_kid {
            Some(kid) => kid.clone(),
            None => header::check(segment)?,
        };
        header::check_body(token)?;
        let keys = &self.inner.keys;
        let fetches_before = keys.fetch_count();
        let mut set = keys.current();
        let mut cooling_down = false;
        if set.get(&kid).is_none() {
            (set, cooling_down) = keys.refetch_for_unknown_kid(fetches_before).await;
            if cooling_down && set.get(&kid).is_none() && self.would_pass(token, policy) {
                (set, cooling_down) = keys.probe_rotation(keys.fetch_count()).await;
            }
        }
        let Some(key) = set.get(&kid) else {
            if cooling_down {
                // Maybe a key the issuer has just published: "retry shortly" (503), not 401, so
                // a job starting during a key rotation waits instead of failing.
                return Err(Rejection::new(
                    RejectionKind::KeysUnavailable,
                    "header.kid",
                    "a known kid, or an unknown-kid refetch allowed by the cooldown",
                    format!("{kid:?} (unknown; refetch cooling down)"),
                ));
            }
            if set.keys.is_empty() {
                return Err(Rejection::new(
                    RejectionKind::KeysUnavailable,
                    "jwks",
                    "the issuer's keys loaded",
                    "no keys (issuer unreachable)",
                ));
            }
            return Err(Rejection::new(
                RejectionKind::UnknownKey,
                "header.kid",
                format!("one of {:?}", set.kids()),
                format!("{kid:?}"),
            ));
        };
        let (message, signature) = token.rsplit_once('.').unwrap_or_default();
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::RS256) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Rejection::new(
                    RejectionKind::Signature,
                    "signature",
                    "valid RS256 signature",
                    "invalid",
                ));
            }
            Err(err) => return Err(library_error(&err)),
        }
        let payload = message.split_once('.').unwrap_or_default().1;
        let raw = parse_claims(payload)?;
        if cached_kid.is_none() {
            self.inner.headers.insert(segment, &kid);
        }
        let claims = registered::check(
            raw,
            &self.inner.issuer,
            &policy.audience,
            unix_now(),
            self.inner.rules,
        )?;
        check_policy(&claims, policy)?;
        Ok(claims)
    }
}

impl Verifier {
    /// Whether `token`'s claims, read WITHOUT verifying its signature, would pass `policy`: the
    /// screen of a rotation probe (`keystore/refresh.rs`), the one place a payload is read before
    /// its signature. It decides only whether the issuer's keys are fetched once more (bounded by
    /// the probe interval), never whether a token is accepted, which still needs the signature.
    fn would_pass(&self, token: &str, policy: &EndpointPolicy) -> bool {
        let payload = token.split('.').nth(1).unwrap_or_default();
        parse_claims(payload)
            .and_then(|raw| {
                let issuer = &self.inner.issuer;
                registered::check(raw, issuer, &policy.audience, unix_now(), self.inner.rules)
            })
            .and_then(|claims| check_policy(&claims, policy))
            .is_ok()
    }
}

/// The payload of a token, parsed once into the claims (after its signature verified, except
/// for `Verifier::would_pass`).
fn parse_claims(payload: &str) -> Result<RawClaims, Rejection> {
    let malformed = |actual: String| {
        Rejection::new(
            RejectionKind::Malformed,
            "claims",
            "a base64url JSON object",
            actual,
        )
    };
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed("invalid base64url".to_owned()))?;
    // UTF-8 checked once for the whole payload, not string by string as `from_slice` would.
    let json = std::str::from_utf8(&json).map_err(|_| malformed("invalid UTF-8".to_owned()))?;
    // The claims are the issuer's (the signature verified); serde's message may quote a claim's
    // value, never the token.
    serde_json::from_str(json).map_err(|e| malformed(format!("invalid JSON: {e}")))
}

/// A library error of the signature check, without its payload-derived text.
fn library_error(err: &jsonwebtoken::errors::Error) -> Rejection {
    use jsonwebtoken::errors::ErrorKind as E;
    let actual = match err.kind() {
        E::Base64(_) => "invalid base64url signature".to_owned(),
        other => format!("{other:?}"),
    };
    Rejection::new(
        RejectionKind::Malformed,
        "token",
        "a well-formed JWS",
        actual,
    )
}

/// Seconds since the epoch (0 if the clock is before 1970, which then fails `exp`).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
