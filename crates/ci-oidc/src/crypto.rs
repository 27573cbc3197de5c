//! `jsonwebtoken`'s crypto provider, with each issuer key parsed once instead of on every call.
//!
//! The library checks a signature through the process-wide `CryptoProvider`: its
//! `verifier_factory(alg, key)` returns a verifier for one call. The aws-lc-rs provider it ships
//! rebuilds the RSA key from the JWK's `n` and `e` inside every verify, about a third of the
//! cost of a whole verification. This provider is that one, except for an RS256 key that the key
//! store parsed when it loaded the set ([`parse_rs256`]): the library then gets a verifier around
//! the already-parsed key. The signature is still checked by the library's call, with the same
//! aws-lc-rs algorithm (`RSA_PKCS1_2048_8192_SHA256`); a key that was not registered goes to the
//! library's own factory, so only the speed differs.
//!
//! The registry is keyed by the key's components and holds weak references: the key set owns
//! the parsed key, and a rotated-out key leaves with its set.

use std::sync::{Arc, Once, OnceLock, RwLock, Weak};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, aws_lc};
use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

/// A parsed key and the components it was parsed from.
struct Registered {
    n: Box<[u8]>,
    e: Box<[u8]>,
    key: Weak<ParsedPublicKey>,
}

static REGISTRY: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Parses an RS256 key once and registers it for the library's verifier; the caller keeps the
/// returned key alive for as long as it may verify with `n`/`e`.
pub(crate) fn parse_rs256(n: &[u8], e: &[u8]) -> Result<Arc<ParsedPublicKey>, String> {
    install();
    let mut registry = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    registry.retain(|r| r.key.strong_count() > 0);
    if let Some(live) = registry
        .iter()
        .find(|r| *r.n == *n && *r.e == *e)
        .and_then(|r| r.key.upgrade())
    {
        return Ok(live);
    }
    let parsed = RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|err| format!("not a usable RSA key: {err}"))?;
    let parsed = Arc::new(parsed);
    registry.push(Registered {
        n: n.into(),
        e: e.into(),
        key: Arc::downgrade(&parsed),
    });
    Ok(parsed)
}

fn registered(n: &[u8], e: &[u8]) -> Option<Arc<ParsedPublicKey>> {
    let registry = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
    registry
        .iter()
        .find(|r| *r.n == *n && *r.e == *e)
        .and_then(|r| r.key.upgrade())
}

/// Makes this provider the library's, before its first use; a no-op after the first call. If
/// another provider was installed first, that one stays (and verification stays correct, only
/// without the parsed keys).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = CryptoProvider::install_default(provider());
    });
}

fn provider() -> &'static CryptoProvider {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| CryptoProvider {
        verifier_factory: verifier,
        ..aws_lc::DEFAULT_PROVIDER.clone()
    })
}

/// Whether the library verifies through this provider (a test and the bench check it).
#[cfg(test)]
fn installed() -> bool {
    CryptoProvider::try_get_default().is_some_and(|p| std::ptr::eq(p, provider()))
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *alg == Algorithm::RS256
        && let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind()
        && let Some(parsed) = registered(n, e)
    {
        return Ok(Box::new(Rs256(parsed)));
    }
    (aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

/// RS256 with a parsed key: what the library's `Rsa256Verifier` does, minus the key rebuild.
struct Rs256(Arc<ParsedPublicKey>);

impl jsonwebtoken::signature::Verifier<Vec<u8>> for Rs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        self.0
            .verify_sig(message, signature)
            .map_err(jsonwebtoken::signature::Error::from_source)
    }
}

impl JwtVerifier for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_key_is_shared_and_leaves_with_its_owner() {
        let key = ci_fixtures::keys::shared_key(ci_fixtures::keys::FIRST_ROTATION_KEY);
        let (n, e) = (key.modulus(), key.exponent());
        let first = parse_rs256(n, e).expect("a real key parses");
        let second = parse_rs256(n, e).expect("parses again");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(registered(n, e).is_some());
        drop((first, second));
        assert!(registered(n, e).is_none());
        assert!(installed(), "the library verifies through this provider");
    }
}
