//! The Auth.js session cookie: a compact JWE, `alg: dir`, `enc: A256CBC-HS512`, as `@auth/core`'s
//! `encode`/`decode` (`@auth/core/jwt`, version 0.41.3, through `jose`) write and read it.
//!
//! `encode` adds `iat` (now), `exp` (now + max age) and `jti` (a random UUID v4) to the caller's
//! claims, overwriting any the caller sent in place, as jose's `EncryptJWT` setters do. The
//! checked-in vectors (`interop/authjs-vectors.json`, made by the real package) pin every byte:
//! re-encoding a vector's payload with its IV reproduces the package's token exactly.
//!
//! Auth.js splits a cookie longer than [`MAX_COOKIE_LEN`] into `.0`, `.1`, … chunks. A CI caller
//! would have to set each chunk, so the endpoint refuses such sessions instead of chunking them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Map, Value};
use sha2::Sha512;

use crate::key::SessionKey;

/// Longest cookie value Auth.js sets in one piece: its `ALLOWED_COOKIE_SIZE` (4096) minus its
/// `ESTIMATED_EMPTY_COOKIE_SIZE` (160) for the name and attributes (`lib/utils/cookie.ts`).
pub const MAX_COOKIE_LEN: usize = 4096 - 160;
/// Seconds of clock skew Auth.js's `decode` allows on `exp` and `nbf`; the decoder matches it.
pub const CLOCK_TOLERANCE: u64 = 15;

const IV_LEN: usize = 16;
/// `A256CBC-HS512` keeps the first half of the HMAC-SHA-512 output (RFC 7518 section 5.2.5).
const TAG_LEN: usize = 32;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
type HmacSha512 = Hmac<Sha512>;

/// Why a session could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("the operating system's random number generator failed: {0}")]
    /// The operating system's random number generator failed.
    Random(getrandom::Error),
    #[error("`exp` would overflow: max age {0} s")]
    /// `exp` would not fit: the max age (seconds) is too large.
    TimeOverflow(u64),
}

/// Why a cookie was not accepted. Says which check failed, never what the cookie contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("not a compact JWE with `alg: dir` (five base64url parts, empty key part)")]
    /// Not a compact JWE with `alg: dir`.
    Malformed,
    #[error("the JWE header is not `alg: dir`, `enc: A256CBC-HS512` without `crit` or `zip`")]
    /// The header is not `alg: dir`, `enc: A256CBC-HS512` (or has `crit`/`zip`).
    UnsupportedHeader,
    #[error("the `kid` is not this secret's key for this cookie name")]
    /// The `kid` is not this secret's key for this cookie name.
    WrongKey,
    #[error("the authentication tag does not match (wrong secret or cookie name, or tampered)")]
    /// The authentication tag does not match.
    Tampered,
    #[error("the payload is not a JSON object with numeric `iat`/`nbf`/`exp`")]
    /// The payload is not a JSON object with numeric times.
    BadClaims,
    #[error("the session has expired")]
    /// The session has expired.
    Expired,
    #[error("the session is not valid yet (`nbf`)")]
    /// The session is not valid yet (`nbf`).
    NotYetValid,
}

/// Encrypts `claims` as Auth.js's `encode({token: claims, secret, salt, maxAge})` would at `now`.
pub fn encode(
    key: &SessionKey,
    claims: &Map<String, Value>,
    now: u64,
    max_age: u64,
) -> Result<String, EncodeError> {
    seal(key, &session_payload(claims, now, max_age)?)
}

/// The claims Auth.js encrypts: the caller's, then `iat`, `exp` and `jti` set in place (a key the
/// caller already sent keeps its position, as in a JavaScript object).
pub fn session_payload(
    claims: &Map<String, Value>,
    now: u64,
    max_age: u64,
) -> Result<Map<String, Value>, EncodeError> {
    let exp = now
        .checked_add(max_age)
        .ok_or(EncodeError::TimeOverflow(max_age))?;
    let mut uuid = [0u8; 16];
    getrandom::fill(&mut uuid).map_err(EncodeError::Random)?;
    let mut payload = claims.clone();
    payload.insert("iat".to_owned(), now.into());
    payload.insert("exp".to_owned(), exp.into());
    payload.insert("jti".to_owned(), uuid_v4(uuid).into());
    Ok(payload)
}

/// The length of the cookie [`seal`] makes of `payload`, known without the key: the header's
/// `kid` is always an 86-character SHA-512 thumbprint, so only the payload's length varies.
pub fn cookie_len(payload: &Map<String, Value>) -> usize {
    let b64 = |n: usize| (4 * n).div_ceil(3);
    let header = r#"{"alg":"dir","enc":"A256CBC-HS512","kid":""}"#.len() + 86;
    let plaintext = serde_json::to_vec(payload).map_or(0, |v| v.len());
    let ciphertext = (plaintext / 16 + 1) * 16;
    b64(header) + 2 + b64(IV_LEN) + 1 + b64(ciphertext) + 1 + b64(TAG_LEN)
}

/// Encrypts `payload` exactly as given (see [`session_payload`]) under a fresh random IV.
pub fn seal(key: &SessionKey, payload: &Map<String, Value>) -> Result<String, EncodeError> {
    let mut iv = [0u8; IV_LEN];
    getrandom::fill(&mut iv).map_err(EncodeError::Random)?;
    Ok(encode_payload(key, payload, iv))
}

/// The deterministic core of [`seal`]: `payload` as given, under `iv`. An IV must never repeat
/// under one key, so only [`seal`] and the vector tests call this.
pub(crate) fn encode_payload(
    key: &SessionKey,
    payload: &Map<String, Value>,
    iv: [u8; IV_LEN],
) -> String {
    // jose serializes the header object in insertion order: alg, enc, kid.
    let header = format!(
        r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{}"}}"#,
        key.kid()
    );
    let protected = URL_SAFE_NO_PAD.encode(header);
    let plaintext = serde_json::to_vec(payload).expect("a JSON map always serializes");
    let ciphertext = Aes256CbcEnc::new_from_slices(key.enc_key(), &iv)
        .expect("32-byte key, 16-byte IV")
        .encrypt_padded_vec::<Pkcs7>(&plaintext);
    let tag = tag(key, protected.as_bytes(), &iv, &ciphertext);
    let mut token = protected;
    token.push_str("..");
    URL_SAFE_NO_PAD.encode_string(iv, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&ciphertext, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&tag[..TAG_LEN], &mut token);
    token
}

/// Decrypts a cookie as Auth.js's `decode({token, secret, salt})` would at `now`, returning every
/// claim (`iat`, `exp` and `jti` included). Only `A256CBC-HS512`, the encoding Auth.js writes.
pub fn decode(key: &SessionKey, token: &str, now: u64) -> Result<Map<String, Value>, DecodeError> {
    let mut parts = token.split('.');
    let (Some(protected), Some(""), Some(iv), Some(ciphertext), Some(tag_b64), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(DecodeError::Malformed);
    };
    let b64 = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| DecodeError::Malformed)
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&b64(protected)?).map_err(|_| DecodeError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("dir")
        || header.get("enc").and_then(Value::as_str) != Some("A256CBC-HS512")
        || header.contains_key("crit")
        || header.contains_key("zip")
    {
        return Err(DecodeError::UnsupportedHeader);
    }
    match header.get("kid") {
        None => {}
        Some(Value::String(kid)) if kid == key.kid() => {}
        Some(_) => return Err(DecodeError::WrongKey),
    }
    let iv: [u8; IV_LEN] = b64(iv)?.try_into().map_err(|_| DecodeError::Malformed)?;
    let ciphertext = b64(ciphertext)?;
    let received = b64(tag_b64)?;
    if received.len() != TAG_LEN || ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(DecodeError::Malformed);
    }
    let mac = mac(key, protected.as_bytes(), &iv, &ciphertext);
    mac.verify_truncated_left(&received)
        .map_err(|_| DecodeError::Tampered)?;
    let plaintext = Aes256CbcDec::new_from_slices(key.enc_key(), &iv)
        .expect("32-byte key, 16-byte IV")
        .decrypt_padded_vec::<Pkcs7>(&ciphertext)
        .map_err(|_| DecodeError::Tampered)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&plaintext).map_err(|_| DecodeError::BadClaims)?;
    check_times(&claims, now)?;
    Ok(claims)
}

/// jose's `validateClaimsSet` as Auth.js calls it: `iat`, `nbf`, `exp` must be numbers when
/// present; `nbf` may be up to the tolerance in the future, `exp` must be later than now minus it.
fn check_times(claims: &Map<String, Value>, now: u64) -> Result<(), DecodeError> {
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(DecodeError::BadClaims),
        Some(_) => Err(DecodeError::BadClaims),
    };
    number("iat")?;
    let now = now as f64;
    let tolerance = CLOCK_TOLERANCE as f64;
    if number("nbf")?.is_some_and(|nbf| nbf > now + tolerance) {
        return Err(DecodeError::NotYetValid);
    }
    if number("exp")?.is_some_and(|exp| exp <= now - tolerance) {
        return Err(DecodeError::Expired);
    }
    Ok(())
}

/// HMAC-SHA-512 over AAD || IV || ciphertext || AL, AL being the AAD's length in bits as a
/// 64-bit big-endian integer (RFC 7518 section 5.2.2.1).
fn mac(key: &SessionKey, aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> HmacSha512 {
    let mut mac = HmacSha512::new_from_slice(key.mac_key()).expect("HMAC takes any key length");
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&(aad.len() as u64 * 8).to_be_bytes());
    mac
}

fn tag(key: &SessionKey, aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> [u8; 64] {
    mac(key, aad, iv, ciphertext).finalize().into_bytes().into()
}

/// What `crypto.randomUUID()` returns: 122 random bits, version 4, RFC 4122 variant, lowercase.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
