//! The `aws-lc` backend (the default): aws-lc-rs, with RSA keys parsed once.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, aws_lc};
use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::{Algorithm, DecodingKey};

pub(super) const NAME: &str = "aws-lc-rs";

/// An RS256 key parsed by aws-lc-rs.
pub(crate) type ParsedKey = ParsedPublicKey;

pub(super) fn parse_rs256(n: &[u8], e: &[u8]) -> Result<ParsedKey, String> {
    RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|err| format!("not a usable RSA key: {err}"))
}

pub(super) fn verify_rs256(
    key: &ParsedKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), jsonwebtoken::signature::Error> {
    key.verify_sig(message, signature)
        .map_err(jsonwebtoken::signature::Error::from_source)
}

/// The library's own aws-lc-rs provider (signing, key utilities, every algorithm).
pub(super) fn library_provider() -> CryptoProvider {
    aws_lc::DEFAULT_PROVIDER.clone()
}

pub(super) fn unregistered_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> JwtResult<Box<dyn JwtVerifier>> {
    (aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

pub(super) fn rustls_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}
