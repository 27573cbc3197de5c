//! The verifier: token + endpoint policy in, typed claims or a [`Rejection`] out.
//!
//! Order of checks: size, shape and header allowlist (`header.rs`) → key → `jsonwebtoken`'s RS256
//! signature and registered-claim validation (`iss`, `aud`, `exp`, `nbf`) → the stricter claim
//! rules around it (`registered.rs`) → repository → id pins → workflow → event. Nothing in the
//! payload is parsed before the signature verified (one exception, which decides no acceptance:
//! a token with an unknown `kid` inside the armed refetch cooldown has its claims screened to
//! decide whether a bounded rotation probe may fetch the keys, see `Verifier::would_pass`), and
//! the first failing check is the one reported. Times are the system clock's: the library reads it for `exp` and `nbf`, and the
//! rules around it read the same clock, so tests mint tokens relative to the current time.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Validation;

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
    /// The library's validation per audience (one per endpoint), built once: it holds hash
    /// sets, which would otherwise be allocated for every request.
    validations: RwLock<Vec<(Box<str>, Arc<Validation>)>>,
}

/// Audiences whose validation is kept; a server has a handful of endpoints.
const VALIDATIONS: usize = 64;

impl Inner {
    fn validation(&self, audience: &str) -> Arc<Validation> {
        let cached = self.validations.read().unwrap_or_else(|p| p.into_inner());
        if let Some((_, v)) = cached.iter().find(|(a, _)| **a == *audience) {
            return Arc::clone(v);
        }
        drop(cached);
        let v = Arc::new(registered::validation(&self.issuer, audience, self.rules));
        let mut cached = self.validations.write().unwrap_or_else(|p| p.into_inner());
        if cached.len() >= VALIDATIONS {
            cached.clear();
        }
        cached.push((audience.into(), Arc::clone(&v)));
        v
    }
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
                validations: RwLock::default(),
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
        let issuer = &self.inner.issuer;
        let audience = &policy.audience;
        let validation = self.inner.validation(audience);
        let now = unix_now();
        let raw = match jsonwebtoken::decode::<RawClaims>(token, key, &validation) {
            Ok(data) => data.claims,
            Err(err) => {
                // Claims are validated after the signature, so a claim error means they are
                // the issuer's and may be read to say what was refused.
                let raw = claim_error(&err)
                    .then(|| {
                        jsonwebtoken::dangerous::insecure_decode_claims::<RawClaims>(token).ok()
                    })
                    .flatten();
                return Err(registered::rejection(&err, raw.as_ref(), issuer, audience));
            }
        };
        if cached_kid.is_none() {
            self.inner.headers.insert(segment, &kid);
        }
        let claims = registered::check_around(raw, audience, now, self.inner.rules)?;
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
        let Ok(raw) = jsonwebtoken::dangerous::insecure_decode_claims::<RawClaims>(token) else {
            return false;
        };
        if raw.iss.as_deref() != Some(self.inner.issuer.as_str()) {
            return false;
        }
        let now = unix_now();
        registered::check_around(raw, &policy.audience, now, self.inner.rules).is_ok_and(|claims| {
            claims.aud == policy.audience
                && claims.exp.saturating_add(self.inner.rules.leeway) >= now
                && claims
                    .nbf
                    .is_none_or(|nbf| nbf <= now.saturating_add(self.inner.rules.leeway))
                && check_policy(&claims, policy).is_ok()
        })
    }
}

fn claim_error(err: &jsonwebtoken::errors::Error) -> bool {
    use jsonwebtoken::errors::ErrorKind as E;
    matches!(
        err.kind(),
        E::ExpiredSignature
            | E::ImmatureSignature
            | E::InvalidIssuer
            | E::InvalidAudience
            | E::MissingRequiredClaim(_)
            | E::InvalidClaimFormat(_)
    )
}

/// Seconds since the epoch (0 if the clock is before 1970, which then fails `exp`).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
