//! The `vercel-flag-overrides` cookie codec, byte-compatible with the Flags SDK (`flags@4.3.1`
//! `encryptOverrides` / `decryptOverrides`); the format is `CONTRACT.md` §5.
//!
//! A cookie is a JWE in compact serialization with `{"alg":"dir","enc":"A256GCM"}`: the 32-byte
//! `FLAGS_SECRET` is the AES-256-GCM key itself, the AAD is the header segment as sent, and the
//! plaintext is the claims set `{"o":…,"pur":"overrides","exp":…}` in that key order, so a fixed
//! IV reproduces the SDK's tokens byte for byte.
//!
//! AES-256-GCM is RustCrypto's `aes-gcm`, the mainstream Rust implementation a reviewer expects
//! (see `system-docs/DEPENDENCIES.md`); it uses the CPU's AES and carry-less multiply
//! instructions when present. The IV comes from the kernel (`getrandom(2)`), which needs no
//! seeding in a fresh process.
//!
//! Decryption exists for tests and for people debugging a cookie. It follows the SDK's checks
//! (`CONTRACT.md` §5) but is deliberately narrower where the SDK is merely permissive: only
//! `dir`/`A256GCM` (jose would also take `A128CBC-HS256`, `A256KW`, `A256GCMKW`), strictly
//! canonical base64url segments (the Node build tolerates padding and stray characters), and a
//! numeric `exp` is required (the SDK accepts a token without one, which then never expires).
//! Everything we refuse that the SDK accepts is something the SDK itself never emits.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

pub(crate) use crate::secret::FlagsSecret;
#[cfg(test)]
pub(crate) use crate::secret::SecretError;

/// The protected header segment the SDK emits: `{"alg":"dir","enc":"A256GCM"}`.
pub(crate) const PROTECTED_HEADER_B64: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";
/// The cookie the Next.js and SvelteKit integrations read.
pub const COOKIE_NAME: &str = "vercel-flag-overrides";
/// The SDK's default lifetime, `"1y"` in jose terms: 365.25 days.
pub(crate) const DEFAULT_LIFETIME_SECS: i64 = 31_557_600;
/// Browsers keep about this much per cookie (name, `=` and value) and drop larger ones silently.
pub const MAX_COOKIE_LEN: usize = 4096;
/// The longest token that still fits: `vercel-flag-overrides=` takes 22 of the 4096 bytes. This is
/// the rule behind the vectors' "2953 bytes of overrides JSON at most".
pub const MAX_TOKEN_LEN: usize = MAX_COOKIE_LEN - COOKIE_NAME.len() - 1;
/// The `pur` claim that tells an overrides token from the SDK's other tokens under the same key.
pub(crate) const PURPOSE: &str = "overrides";

pub(crate) const IV_LEN: usize = 12;
/// Everything but the ciphertext: header (39) + four dots + IV (16) + tag (22) characters.
const FIXED_TOKEN_LEN: usize = 81;

/// Why a cookie could not be made. None of these depend on the input; they mean the
/// cryptographic library or the system random source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// AES-256-GCM encryption failed.
    #[error("AES-256-GCM encryption failed")]
    Seal,
    /// The overrides could not be serialised as JSON.
    #[error("the overrides could not be serialised as JSON")]
    Serialize,
}

/// Why a token was refused. The SDK collapses all of these into `undefined`; we keep the reason
/// because the debugging helper is only useful if it says what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// No `vercel-flag-overrides` cookie in the input.
    #[error("no `{COOKIE_NAME}` cookie in the input")]
    NoCookie,
    /// Not a compact JWE: expected 5 dot-separated segments.
    #[error("not a compact JWE: expected 5 dot-separated segments")]
    Shape,
    /// A segment (named) is not canonical unpadded base64url.
    #[error("the {0} segment is not canonical unpadded base64url")]
    Encoding(&'static str),
    /// The encrypted-key segment must be empty with alg "dir".
    #[error("the encrypted-key segment must be empty with alg \"dir\"")]
    EncryptedKey,
    /// The protected header is not a JSON object.
    #[error("the protected header is not a JSON object")]
    HeaderJson,
    /// An unsupported protected header (what is wrong with it).
    #[error("unsupported protected header: {0}")]
    Header(&'static str),
    /// The IV must be 12 bytes.
    #[error("the IV must be 12 bytes")]
    IvLength,
    /// The authentication tag must be 16 bytes.
    #[error("the authentication tag must be 16 bytes")]
    TagLength,
    /// Decryption failed: a different FLAGS_SECRET, or the token was altered.
    #[error("decryption failed: a different FLAGS_SECRET, or the token was altered")]
    Decryption,
    /// The claims set is not a JSON object.
    #[error("the claims set is not a JSON object")]
    ClaimsJson,
    /// Invalid claims (what is wrong with them).
    #[error("invalid claims: {0}")]
    Claims(&'static str),
    /// The token expired.
    #[error("the token expired (exp {exp}, now {now})")]
    Expired {
        /// The token's `exp`.
        exp: f64,
        /// The time it was checked at.
        now: i64,
    },
    /// The token is not valid yet.
    #[error("the token is not valid yet (nbf {nbf}, now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: f64,
        /// The time it was checked at.
        now: i64,
    },
    /// The token's purpose is not "overrides" (a flag values or definitions token?).
    #[error("the token's purpose is not \"overrides\" (a flag values or definitions token?)")]
    Purpose,
    /// The claims have no `o` (overrides) property.
    #[error("the claims have no `o` (overrides) property")]
    MissingOverrides,
}

/// Seconds since the Unix epoch, as jose's `epoch(new Date())` computes it.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The `exp` the SDK would set for a token made at `now`.
pub fn default_exp(now: i64) -> i64 {
    now.saturating_add(DEFAULT_LIFETIME_SECS)
}

/// Encrypts `flags` into a cookie value the SDK's `decryptOverrides` accepts until `exp`.
pub fn encrypt_overrides(
    flags: &Map<String, Value>,
    secret: &FlagsSecret,
    exp: i64,
) -> Result<String, EncryptError> {
    let mut iv = [0u8; IV_LEN];
    // The kernel's CSPRNG, not aws-lc's: aws-lc seeds its DRBG (jitter entropy) on first use,
    // which made the first cookie of every fresh process ~30 ms slower (measured with strace).
    getrandom::fill(&mut iv).map_err(|_| EncryptError::Random)?;
    seal_with_iv(flags, secret, exp, iv)
}

/// The sealing step with a caller-chosen IV. Crate-private on purpose: reusing an IV under the
/// same key breaks GCM, so only the fixed-IV interop vectors may choose one.
pub(crate) fn seal_with_iv(
    flags: &Map<String, Value>,
    secret: &FlagsSecret,
    exp: i64,
    iv: [u8; IV_LEN],
) -> Result<String, EncryptError> {
    let mut buf = Vec::with_capacity(64);
    write_claims(&mut buf, flags, exp).map_err(|_| EncryptError::Serialize)?;
    let tag = secret
        .aead()
        .encrypt_inout_detached(
            &Nonce::from(iv),
            PROTECTED_HEADER_B64.as_bytes(),
            buf.as_mut_slice().into(),
        )
        .map_err(|_| EncryptError::Seal)?;

    let mut token = String::with_capacity(token_len_for_claims(buf.len()));
    token.push_str(PROTECTED_HEADER_B64);
    token.push_str("..");
    URL_SAFE_NO_PAD.encode_string(iv, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&buf, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_slice(), &mut token);
    Ok(token)
}

/// The claims set exactly as the SDK serialises it. serde_json leaves non-ASCII as raw UTF-8 and
/// (with `preserve_order`) keeps the caller's key order, as `JSON.stringify` does.
pub(crate) fn write_claims(
    out: &mut impl Write,
    flags: &Map<String, Value>,
    exp: i64,
) -> io::Result<()> {
    out.write_all(b"{\"o\":")?;
    serde_json::to_writer(&mut *out, flags)?;
    write!(out, ",\"pur\":\"{PURPOSE}\",\"exp\":{exp}}}")
}

/// Length of the token for a claims set of `claims_len` bytes (`CONTRACT.md` §5).
pub(crate) fn token_len_for_claims(claims_len: usize) -> usize {
    FIXED_TOKEN_LEN + claims_len.saturating_mul(4).div_ceil(3)
}

/// The exact length of the token [`encrypt_overrides`] would produce for `flags` and `exp`,
/// computed without encrypting (or allocating the JSON).
pub(crate) fn token_len_for(flags: &Map<String, Value>, exp: i64) -> usize {
    let mut counter = CountingWriter(0);
    match write_claims(&mut counter, flags, exp) {
        Ok(()) => token_len_for_claims(counter.0),
        // Serialising a `Map` into a counter cannot fail; if it ever did, report "too large".
        Err(_) => usize::MAX,
    }
}

/// The exact length of the cookie value (the token) for `flags` with the default lifetime, so a
/// caller can refuse one over [`MAX_TOKEN_LEN`] before doing any cryptography.
pub fn cookie_len_for(flags: &Map<String, Value>) -> usize {
    token_len_for(flags, default_exp(now_unix()))
}

struct CountingWriter(usize);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Decrypts a token as `decryptOverrides` would (with the narrowing in the module doc), returning
/// the overrides exactly as stored, or `None`, as the SDK returns `undefined`.
pub fn decrypt_overrides(token: &str, secret: &FlagsSecret, now: i64) -> Option<Value> {
    decrypt_overrides_detailed(token, secret, now).ok()
}

/// Debugging helper: decrypts a cookie with the current clock and says why it was refused.
/// Accepts the bare token, `vercel-flag-overrides=<token>`, or a whole `Cookie` header, with
/// surrounding whitespace, like `interop/sdk-decrypt.mjs`.
pub fn decrypt(cookie: &str, secret: &FlagsSecret) -> Result<Value, DecryptError> {
    decrypt_overrides_detailed(extract_token(cookie)?, secret, now_unix())
}

fn extract_token(input: &str) -> Result<&str, DecryptError> {
    let input = input.trim();
    if !input.contains('=') {
        return Ok(input);
    }
    input
        .split([';', ' ', '\t', '\n', '\r'])
        .find_map(|pair| pair.strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .ok_or(DecryptError::NoCookie)
}

/// [`decrypt_overrides`] with the reason for a refusal.
pub fn decrypt_overrides_detailed(
    token: &str,
    secret: &FlagsSecret,
    now: i64,
) -> Result<Value, DecryptError> {
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, encrypted_key, iv_b64, ciphertext_b64, tag_b64] = segments[..] else {
        return Err(DecryptError::Shape);
    };
    let header_json = strict_b64(header_b64, "protected header")?;
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&header_json) else {
        return Err(DecryptError::HeaderJson);
    };
    // The header first: "alg must be dir" explains a key-wrapping token better than its key does.
    check_header(&header)?;
    if !encrypted_key.is_empty() {
        return Err(DecryptError::EncryptedKey);
    }

    let iv: [u8; IV_LEN] = strict_b64(iv_b64, "IV")?
        .try_into()
        .map_err(|_| DecryptError::IvLength)?;
    let tag = strict_b64(tag_b64, "tag")?;
    let tag = Tag::try_from(tag.as_slice()).map_err(|_| DecryptError::TagLength)?;
    let mut plaintext = strict_b64(ciphertext_b64, "ciphertext")?;
    secret
        .aead()
        .decrypt_inout_detached(
            &Nonce::from(iv),
            header_b64.as_bytes(),
            plaintext.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| DecryptError::Decryption)?;
    let plaintext = plaintext.as_slice();

    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(plaintext) else {
        return Err(DecryptError::ClaimsJson);
    };
    check_replicated_claims(&header, &claims)?;
    check_times(&claims, now)?;
    check_purpose(&claims)?;
    claims.remove("o").ok_or(DecryptError::MissingOverrides)
}

fn strict_b64(segment: &str, name: &'static str) -> Result<Vec<u8>, DecryptError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| DecryptError::Encoding(name))
}

fn check_header(header: &Map<String, Value>) -> Result<(), DecryptError> {
    // jose knows no critical extensions, so any `crit`, even `[]`, is refused.
    if header.contains_key("crit") {
        return Err(DecryptError::Header("crit is not supported"));
    }
    if header.contains_key("zip") {
        return Err(DecryptError::Header("zip (compression) is not supported"));
    }
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "dir" => {}
        None => return Err(DecryptError::Header("alg is missing")),
        Some(_) => return Err(DecryptError::Header("alg must be \"dir\"")),
    }
    match header.get("enc") {
        Some(Value::String(enc)) if enc == "A256GCM" => Ok(()),
        None => Err(DecryptError::Header("enc is missing")),
        Some(_) => Err(DecryptError::Header("enc must be \"A256GCM\"")),
    }
}

/// jose's rule for `iss`/`sub`/`aud` repeated in the header: the claim must be `===` to it, which
/// in JavaScript can only hold for primitives.
fn check_replicated_claims(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<(), DecryptError> {
    for name in ["iss", "sub", "aud"] {
        if let Some(in_header) = header.get(name) {
            let primitive = !(in_header.is_array() || in_header.is_object());
            if !primitive || claims.get(name) != Some(in_header) {
                return Err(DecryptError::Claims(
                    "iss/sub/aud in the header does not match the claim",
                ));
            }
        }
    }
    Ok(())
}

fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), DecryptError> {
    let now_f = now as f64;
    let exp = match claims.get("exp") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
        None => return Err(DecryptError::Claims("exp is missing")),
    }
    .ok_or(DecryptError::Claims("exp is not a number"))?;
    // No clock tolerance, like the SDK.
    if exp <= now_f {
        return Err(DecryptError::Expired { exp, now });
    }
    match claims.get("nbf") {
        None => {}
        Some(Value::Number(n)) => {
            let nbf = n
                .as_f64()
                .ok_or(DecryptError::Claims("nbf is not a number"))?;
            if nbf > now_f {
                return Err(DecryptError::NotYetValid { nbf, now });
            }
        }
        Some(_) => return Err(DecryptError::Claims("nbf is not a number")),
    }
    match claims.get("iat") {
        None | Some(Value::Number(_)) => Ok(()),
        Some(_) => Err(DecryptError::Claims("iat is not a number")),
    }
}

fn check_purpose(claims: &Map<String, Value>) -> Result<(), DecryptError> {
    let ok = match claims.get("pur") {
        Some(Value::String(pur)) => pur == PURPOSE,
        Some(Value::Array(purposes)) => purposes.iter().any(|p| p.as_str() == Some(PURPOSE)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DecryptError::Purpose)
    }
}
