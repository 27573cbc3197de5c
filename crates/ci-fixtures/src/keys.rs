//! RSA-2048 test keys for the mock issuer, generated with aws-lc-rs.
//!
//! Key generation is the slow part of every OIDC test, so keys come from a per-process pool:
//! [`shared_key`]`(0)` is the issuer's default signing key, `(1)` the "foreign" key an attacker
//! would sign with, and rotations take the next unused index. These keys are test material
//! only; this crate is a dev-dependency and never part of a release build.

use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// An RSA-2048 key pair with its JWK identity.
pub struct TestKey {
    pair: KeyPair,
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// RSA signature schemes the token builder can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaScheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (`RS384`).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (`RS512`).
    Rs512,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
}

impl TestKey {
    /// Generates a fresh RSA-2048 key (tens of milliseconds; prefer [`shared_key`]).
    pub fn generate() -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let spki_der = public.as_der().expect("public key DER").as_ref().to_vec();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &n);
        let hex: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // GitHub's kids look like UUIDs; keep that shape.
        let kid = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        TestKey {
            pair,
            kid,
            n,
            e,
            spki_der,
        }
    }

    /// The key id published in the JWKS and put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The modulus, big-endian without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian without leading zeros.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// SubjectPublicKeyInfo DER of the public key (the "secret" of the HS256 confusion attack).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public JWK, in the shape GitHub publishes (`kty`, `alg`, `use`, `kid`, `n`, `e`).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Signs `message`.
    pub fn sign(&self, scheme: RsaScheme, message: &[u8]) -> Vec<u8> {
        let encoding: &'static dyn RsaEncoding = match scheme {
            RsaScheme::Rs256 => &signature::RSA_PKCS1_SHA256,
            RsaScheme::Rs384 => &signature::RSA_PKCS1_SHA384,
            RsaScheme::Rs512 => &signature::RSA_PKCS1_SHA512,
            RsaScheme::Ps256 => &signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(encoding, &SystemRandom::new(), message, &mut sig)
            .expect("RSA signing");
        sig
    }
}

fn pool() -> &'static Mutex<Vec<Arc<TestKey>>> {
    static POOL: OnceLock<Mutex<Vec<Arc<TestKey>>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Vec::new()))
}

/// The `index`-th key of this process's pool, generated on first use.
pub fn shared_key(index: usize) -> Arc<TestKey> {
    let mut keys = pool().lock().unwrap_or_else(|p| p.into_inner());
    while keys.len() <= index {
        keys.push(Arc::new(TestKey::generate()));
    }
    Arc::clone(&keys[index])
}

/// Index of the default signing key.
pub const PRIMARY_KEY: usize = 0;
/// Index of the key that is never published (signatures by it must fail).
pub const FOREIGN_KEY: usize = 1;
/// Indexes from here on are handed out by rotations.
pub const FIRST_ROTATION_KEY: usize = 2;

/// A JWKS document publishing `keys`.
pub fn jwks_json(keys: &[Arc<TestKey>]) -> String {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    json!({ "keys": keys }).to_string()
}
