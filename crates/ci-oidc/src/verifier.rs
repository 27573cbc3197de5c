//! The verifier: token + endpoint policy in, typed claims or a [`Rejection`] out.
//!
//! Order of checks: format and header → key → RS256 signature → claim shapes → `iss` → `aud`
//! → times → repository → id pins → workflow → event. Nothing in the payload is parsed before
//! the signature verified, and the first failing check is the one reported.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::github::GitHubClaims;
use crate::github::checks::check_policy;
use crate::github::claims::RawClaims;
use crate::header_cache::HeaderCache;
use crate::keystore::KeyStore;
use crate::policy::EndpointPolicy;
use crate::registered::{TimeRules, check_registered};
use crate::rejection::{Rejection, RejectionKind};
use crate::secret::SecretString;
use crate::unverified;

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
        self.verify_at(token, policy, unix_now()).await
    }

    /// Verifies `token` against `policy` as if the time were `now_unix`.
    pub async fn verify_at(
        &self,
        token: &SecretString,
        policy: &EndpointPolicy,
        now_unix: i64,
    ) -> Result<GitHubClaims, Rejection> {
        let claims = self
            .verify_token_at(token, &policy.audience, now_unix)
            .await?;
        check_policy(&claims, policy)?;
        Ok(claims)
    }

    /// Checks format, signature, `iss`, `aud` and times only, without any repository policy.
    /// For callers that apply their own policy; endpoints use [`Verifier::verify`].
    pub async fn verify_token_at(
        &self,
        token: &SecretString,
        audience: &str,
        now_unix: i64,
    ) -> Result<GitHubClaims, Rejection> {
        let segments = unverified::split(token.expose_secret())?;
        let cached_kid = self.inner.headers.kid(segments.header);
        let kid = match &cached_kid {
            Some(kid) => kid.clone(),
            None => unverified::parse_header(segments.header)?,
        };
        unverified::check_body_present(&segments)?;
        let keys = &self.inner.keys;
        let fetches_before = keys.fetch_count();
        let mut set = keys.current();
        let mut cooling_down = false;
        if set.get(&kid).is_none() {
            (set, cooling_down) = keys.refetch_for_unknown_kid(fetches_before).await;
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
        // Decoded after the (possibly awaiting) key lookup so the buffer stays on the stack
        // instead of in the future.
        let mut sig_buf = [0u8; unverified::MAX_SIGNATURE_LEN];
        let signature = unverified::decode_signature_into(segments.signature, &mut sig_buf)?;
        if key.verify_sig(segments.signing_input, signature).is_err() {
            return Err(Rejection::new(
                RejectionKind::Signature,
                "signature",
                format!("valid RS256 signature by kid {kid:?}"),
                "invalid",
            ));
        }
        if cached_kid.is_none() {
            self.inner.headers.insert(segments.header, &kid);
        }
        let raw: RawClaims = unverified::parse_payload(segments.payload)?;
        check_registered(
            raw,
            &self.inner.issuer,
            audience,
            now_unix,
            self.inner.rules,
        )
    }

    /// Like [`Verifier::verify_token_at`] at the current time.
    pub async fn verify_token(
        &self,
        token: &SecretString,
        audience: &str,
    ) -> Result<GitHubClaims, Rejection> {
        self.verify_token_at(token, audience, unix_now()).await
    }
}

/// Seconds since the epoch (0 if the clock is before 1970, which then fails `exp`).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
