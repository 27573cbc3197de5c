//! Turning a JWKS document into ready-to-use RSA verification keys.
//!
//! Each key is parsed into an aws-lc-rs [`ParsedPublicKey`] once, when the set is loaded, so
//! a verification costs one RSA operation and nothing else (re-parsing the key per token is
//! what makes generic JWT libraries slower). Keys the verifier could never use are skipped
//! one by one, with the reason, instead of failing the whole set: an issuer that adds an EC
//! key tomorrow must not take every endpoint down.

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::KeyStoreError;

/// Smallest accepted modulus, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted modulus, in bits (the verification algorithm's own bound).
pub const MAX_RSA_BITS: usize = 8192;

/// One usable verification key.
pub(crate) struct VerifyingKey {
    pub(crate) kid: String,
    pub(crate) key: ParsedPublicKey,
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
    pub(crate) fn get(&self, kid: &str) -> Option<&ParsedPublicKey> {
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

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
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
    if jwk.kty.as_deref() != Some("RSA") {
        return Err(format!("kty {:?} is not RSA", jwk.kty.unwrap_or_default()));
    }
    let kid = jwk.kid.filter(|k| !k.is_empty()).ok_or("no kid")?;
    if let Some(u) = jwk.use_.as_deref()
        && u != "sig"
    {
        return Err(format!("use {u:?} is not sig"));
    }
    if let Some(alg) = jwk.alg.as_deref()
        && alg != "RS256"
    {
        return Err(format!("alg {alg:?} is not RS256"));
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Err("key_ops lacks verify".to_owned());
    }
    let n = component("n", jwk.n.as_deref())?;
    let e = component("e", jwk.e.as_deref())?;
    let bits = bit_len(&n);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "modulus of {bits} bits (need {MIN_RSA_BITS}..={MAX_RSA_BITS})"
        ));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("even modulus".to_owned());
    }
    let e_ok = e.len() <= 8 && e.last().is_some_and(|b| b & 1 == 1) && (e.len() > 1 || e[0] >= 3);
    if !e_ok {
        return Err("exponent must be odd, >= 3 and at most 64 bits".to_owned());
    }
    let key = RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .map_err(|e| format!("rejected by aws-lc-rs: {e}"))?;
    Ok(VerifyingKey { kid, key })
}

/// Decodes a base64url big-endian integer, without its leading zero bytes.
fn component(name: &str, b64: Option<&str>) -> Result<Vec<u8>, String> {
    let mut raw = URL_SAFE_NO_PAD
        .decode(b64.ok_or_else(|| format!("no {name}"))?)
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
