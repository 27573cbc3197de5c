//! The build's one crypto provider, and `jsonwebtoken`'s provider with each issuer key parsed once.
//!
//! Exactly one backend is compiled in, chosen by a Cargo feature: `aws-lc` (the default: aws-lc-rs,
//! the fastest RSA verify, what the server and the client use) or `ring` (for a Vercel function:
//! ring builds its C and assembly with `cc` in seconds, where aws-lc-sys's C build dominated the
//! function's cold build). The backend verifies the issuer's RS256 signatures, is rustls'
//! process-wide provider for every TLS client of the kit (the issuer's keys, Redis, upstreams) and
//! computes the kit's SHA-256 digests. Both or neither enabled is a compile error, so a build
//! never carries two providers (and rustls never has to guess between them).
//!
//! The library checks a signature through the process-wide `CryptoProvider`: its
//! `verifier_factory(alg, key)` returns a verifier for one call. The aws-lc-rs provider it ships
//! rebuilds the RSA key from the JWK's `n` and `e` inside every verify, about a third of the
//! cost of a whole verification. This provider keeps an RS256 key that the key store parsed when
//! it loaded the set ([`parse_rs256`]) and gives the library a verifier around it. The signature
//! is still checked by the library's call, with `RSA_PKCS1_2048_8192_SHA256` of the backend; a key
//! that was not registered is verified from its components, so only the speed differs. Under
//! `ring` (which has no parsed public key type) a registered key keeps its components and ring
//! parses them in each verify; the function serves a handful of calls per deployment.
//!
//! The registry is keyed by the key's components and holds weak references: the key set owns
//! the parsed key, and a rotated-out key leaves with its set.

#[cfg(all(feature = "aws-lc", feature = "ring"))]
compile_error!(
    "ci-oidc: both crypto backends are enabled (`aws-lc` and `ring`); a build has exactly one. \
     A toolkit crate was taken with its default features (which select `aws-lc`) next to one \
     asking for `ring`: declare the toolkit crates with `default-features = false` (see \
     templates/vercel/Cargo.toml)"
);
#[cfg(not(any(feature = "aws-lc", feature = "ring")))]
compile_error!(
    "ci-oidc: no crypto backend is enabled: turn on the `aws-lc` (default) or the `ring` feature \
     of ci-oidc, or of the toolkit crate that depends on it"
);

#[cfg(feature = "aws-lc")]
#[path = "crypto/aws_lc.rs"]
mod backend;
#[cfg(all(feature = "ring", not(feature = "aws-lc")))]
#[path = "crypto/ring.rs"]
mod backend;

use std::sync::{Arc, Once, OnceLock, RwLock, Weak};

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

pub(crate) use backend::ParsedKey;

/// The backend this build verifies and connects with: `"aws-lc-rs"` or `"ring"`.
pub const CRYPTO_BACKEND: &str = backend::NAME;

/// Makes this build's backend the process-wide provider of rustls and of `jsonwebtoken`, unless
/// one was installed already; cheap after the first call. Every TLS client of the kit calls it
/// before it is built (a reqwest or Redis client built before any provider is installed would
/// panic under `ring`, where the HTTP client has no provider of its own); an endpoint that builds
/// its own TLS client calls it first too.
pub fn install_crypto_provider() {
    install();
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one first: fine either way.
        let _ = backend::rustls_provider().install_default();
    }
}

/// SHA-256 with this build's backend (the kit's replay keys, audit and policy digests).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    backend::sha256(bytes)
}

/// A parsed key and the components it was parsed from.
struct Registered {
    n: Box<[u8]>,
    e: Box<[u8]>,
    key: Weak<ParsedKey>,
}

static REGISTRY: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Parses an RS256 key once and registers it for the library's verifier; the caller keeps the
/// returned key alive for as long as it may verify with `n`/`e`.
pub(crate) fn parse_rs256(n: &[u8], e: &[u8]) -> Result<Arc<ParsedKey>, String> {
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
    let parsed = Arc::new(backend::parse_rs256(n, e)?);
    registry.push(Registered {
        n: n.into(),
        e: e.into(),
        key: Arc::downgrade(&parsed),
    });
    Ok(parsed)
}

fn registered(n: &[u8], e: &[u8]) -> Option<Arc<ParsedKey>> {
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
        ..backend::library_provider()
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
    backend::unregistered_verifier(alg, key)
}

/// RS256 with a parsed key: what the library's `Rsa256Verifier` does, minus the key rebuild.
struct Rs256(Arc<ParsedKey>);

impl jsonwebtoken::signature::Verifier<Vec<u8>> for Rs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        backend::verify_rs256(&self.0, message, signature)
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

    #[test]
    fn sha256_is_the_standard_digest() {
        let hex =
            |bytes: [u8; 32]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        // FIPS 180-2's "abc" example.
        assert_eq!(
            hex(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Eight zero bytes (an empty part's length prefix in the replay store's keys).
        assert_eq!(
            hex(sha256(&[0; 8])),
            "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"
        );
    }
}
