//! The `ring` backend (a Vercel function's): RS256 verification, rustls and SHA-256 from ring.
//!
//! ring has no parsed RSA public key type: a key keeps its components and ring parses them in
//! each verify (with the same bounds as aws-lc-rs: a 2048 to 8192-bit modulus, an odd exponent
//! of at least 3 and at most 33 bits). The verifier supports RS256 only, the one algorithm the
//! verifier accepts; the library's signing and key utilities are not provided (the kit signs
//! nothing with `jsonwebtoken`; `tokens-mint` needs the `aws-lc` backend).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::digest;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

pub(super) const NAME: &str = "ring";

/// An RS256 key's big-endian modulus and exponent, verified by ring.
pub(crate) struct ParsedKey {
    n: Box<[u8]>,
    e: Box<[u8]>,
}

pub(super) fn parse_rs256(n: &[u8], e: &[u8]) -> Result<ParsedKey, String> {
    Ok(ParsedKey {
        n: n.into(),
        e: e.into(),
    })
}

pub(super) fn verify_rs256(
    key: &ParsedKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), jsonwebtoken::signature::Error> {
    RsaPublicKeyComponents {
        n: &*key.n,
        e: &*key.e,
    }
    .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
    // ring says only "unspecified": the signature does not verify with this key.
    .map_err(|_| jsonwebtoken::signature::Error::new())
}

fn unsupported(what: &str) -> jsonwebtoken::errors::Error {
    ErrorKind::Provider(format!("{what} is not provided by ci-oidc's ring backend")).into()
}

/// Verification only: signing and the key utilities answer an error, never panic.
pub(super) fn library_provider() -> CryptoProvider {
    CryptoProvider {
        signer_factory: no_signer,
        verifier_factory: unregistered_verifier,
        key_utils: KeyUtils {
            rsa_pub_components_from_private_key: |_| Err(unsupported("reading RSA keys")),
            rsa_pub_components_from_public_key: |_| Err(unsupported("reading RSA keys")),
            ec_pub_components_from_private_key: |_, _| Err(unsupported("reading EC keys")),
            ed_pub_components_from_private_key: |_, _: &EllipticCurve| {
                Err(unsupported("reading Ed25519 keys"))
            },
            compute_digest,
        },
    }
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    Err(unsupported("signing"))
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> JwtResult<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(unsupported("this thumbprint hash")),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

/// RS256 from the key's components; any other algorithm or key kind is refused.
pub(super) fn unregistered_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> JwtResult<Box<dyn JwtVerifier>> {
    match (alg, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            let key = ParsedKey {
                n: n.as_slice().into(),
                e: e.as_slice().into(),
            };
            Ok(Box::new(super::Rs256(std::sync::Arc::new(key))))
        }
        (Algorithm::RS256, _) => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

pub(super) fn rustls_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}
