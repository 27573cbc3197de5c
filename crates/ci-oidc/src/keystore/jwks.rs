//! Turning a JWKS document into `jsonwebtoken` decoding keys.
//!
//! Each member is read as the library's [`Jwk`] and becomes a [`DecodingKey`] once, when the
//! set is loaded. Keys the verifier could never use are skipped one by one, with the reason,
//! instead of failing the whole set: an issuer that adds an EC key tomorrow must not take every
//! endpoint down. The rules are stricter than the library's: RSA only, `use` and `alg` (when
//! present) `sig` and `RS256`, a modulus of 2048 to 8192 bits, an odd exponent of at least 3
//! that fits the verification algorithm.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;

use super::KeyStoreError;

/// Smallest accepted modulus, in bits.
const MIN_RSA_BITS: usize = 2048;
/// Largest accepted modulus, in bits (the verification algorithm's own bound).
const MAX_RSA_BITS: usize = 8192;

/// One usable verification key.
pub(crate) struct VerifyingKey {
    pub(crate) kid: String,
    pub(crate) key: DecodingKey,
    /// The same key parsed once (`crate::crypto`): the library's verifier finds it by `n`/`e`,
    /// and it lives as long as this set holds the key.
    _parsed: Arc<crate::crypto::ParsedKey>,
}

/// A loaded set of keys; replaced as a whole on refresh.
#[derive(Default)]
pub(crate) struct KeySet {
    /// Bumped on every successful load; lets concurrent refetches see that one happened.
    pub(crate) generation: u64,
    pub(crate) keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// The key for `kid`. A linear scan: issuers publish a handful of keys.
    pub(crate) fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }

    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }
}

/// A key left out of the set, and why (logged, never fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it cannot be used.
    pub reason: String,
}

/// The document's shape; members are read one by one so one bad key is skipped, not fatal.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

/// Parses a JWKS; fails when the document is not a JWKS or no key is usable.
pub(crate) fn parse_jwks(
    json: &[u8],
) -> Result<(Vec<VerifyingKey>, Vec<SkippedKey>), KeyStoreError> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(KeyStoreError::Jwks("not a JSON object".to_owned()));
    }
    let set: JwkSet =
        serde_json::from_slice(json).map_err(|e| KeyStoreError::Jwks(e.to_string()))?;
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(set.keys.len());
    let mut skipped = Vec::new();
    for value in set.keys {
        let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
        match usable_key(value) {
            Ok(key) if keys.iter().any(|k| k.kid == key.kid) => skipped.push(SkippedKey {
                kid,
                reason: "duplicate kid (the first one is kept)".to_owned(),
            }),
            Ok(key) => keys.push(key),
            Err(reason) => skipped.push(SkippedKey { kid, reason }),
        }
    }
    if keys.is_empty() {
        return Err(KeyStoreError::NoUsableKeys { skipped });
    }
    Ok((keys, skipped))
}

fn usable_key(value: Value) -> Result<VerifyingKey, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a JWK: {e}"))?;
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err("kty is not RSA".to_owned());
    };
    let common = &jwk.common;
    let kid = common
        .key_id
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or("no kid")?;
    if let Some(u) = &common.public_key_use
        && *u != PublicKeyUse::Signature
    {
        return Err(format!("use {u:?} is not sig"));
    }
    if let Some(alg) = common.key_algorithm
        && alg != KeyAlgorithm::RS256
    {
        return Err(format!("alg {alg:?} is not RS256"));
    }
    if let Some(ops) = &common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err("key_ops lacks verify".to_owned());
    }
    let n = component("n", &rsa.n)?;
    let e = component("e", &rsa.e)?;
    let bits = bit_len(&n);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "modulus of {bits} bits (need {MIN_RSA_BITS}..={MAX_RSA_BITS})"
        ));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("even modulus".to_owned());
    }
    // aws-lc-rs and ring take exponents of at most 33 bits.
    let e_ok = e.len() <= 4 && e.last().is_some_and(|b| b & 1 == 1) && (e.len() > 1 || e[0] >= 3);
    if !e_ok {
        return Err("exponent must be odd, >= 3 and at most 32 bits".to_owned());
    }
    let parsed = crate::crypto::parse_rs256(&n, &e)?;
    let key = DecodingKey::from_rsa_raw_components(&n, &e);
    Ok(VerifyingKey {
        kid,
        key,
        _parsed: parsed,
    })
}

/// Decodes a base64url big-endian integer, without its leading zero bytes.
fn component(name: &str, b64: &str) -> Result<Vec<u8>, String> {
    let mut raw = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|err| format!("{name} is not base64url: {err}"))?;
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .ok_or_else(|| format!("{name} is zero"))?;
    raw.drain(..start);
    Ok(raw)
}

fn bit_len(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |&b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
}
