//! `AUTH_SECRET` and the per-cookie-name key Auth.js derives from it.
//!
//! Auth.js never uses the secret directly: `@auth/core`'s `jwt.ts` runs HKDF-SHA256 over the
//! secret's UTF-8 bytes with the cookie name as salt and `Auth.js Generated Encryption Key
//! (<salt>)` as info, 64 bytes for `A256CBC-HS512`. So the same secret gives a different key for
//! `authjs.session-token` and `__Secure-authjs.session-token`, and the cookie name is part of the
//! format. The JWE header's `kid` is the RFC 7638 SHA-512 thumbprint of that key as an `oct` JWK.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::{Digest as _, Sha256, Sha512};
use zeroize::Zeroizing;

/// The session cookie's name on plain-HTTP origins (Auth.js `defaultCookies(false)`).
pub const COOKIE_NAME: &str = "authjs.session-token";
/// The name on HTTPS origins (`defaultCookies(true)` adds the `__Secure-` prefix).
pub const SECURE_COOKIE_NAME: &str = "__Secure-authjs.session-token";
/// Key length for `A256CBC-HS512`: 32 bytes of HMAC-SHA-512 key, then 32 of AES-256 key.
pub(crate) const KEY_LEN: usize = 64;
/// Shortest secret accepted: what `npx auth secret` prints is 44 characters. Auth.js itself takes
/// any string, but a short one is a guessable one, and it would let anyone mint sessions.
pub const MIN_SECRET_LEN: usize = 32;

/// How to make a good secret; repeated in every parse error so the fix is one copy-paste away.
const HOW_TO_GENERATE: &str = "generate one with `npx auth secret` or `openssl rand -base64 33` and set it as AUTH_SECRET \
     in the deployment (the app reads the same variable)";

/// Why an `AUTH_SECRET` value was refused. The messages never contain the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// Shorter than 32 bytes once decoded.
    TooShort {
        /// How many bytes it had.
        got: usize,
    },
    /// It contains a control character (a pasted newline, usually).
    ControlCharacter,
}

impl SecretError {
    /// What is wrong and how to fix it, for a caller that names the variable (`AUTH_SECRET: …`).
    pub fn problem(&self) -> String {
        let what = match self {
            SecretError::TooShort { got } => format!(
                "is {got} characters long; a session secret needs at least {MIN_SECRET_LEN}"
            ),
            SecretError::ControlCharacter => {
                "contains a control character (a stray newline from copy and paste?)".to_owned()
            }
        };
        format!("{what}: {HOW_TO_GENERATE}")
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AUTH_SECRET {}", self.problem())
    }
}

impl std::error::Error for SecretError {}

/// The deployment's `AUTH_SECRET`, exactly as Auth.js reads it. Zeroized on drop; never printed.
pub struct AuthSecret(Zeroizing<String>);

impl AuthSecret {
    /// Accepts what Auth.js would use as-is (no trimming: the app sees the same bytes), refusing
    /// short secrets and control characters, which are mistakes rather than secrets.
    pub fn parse(text: &str) -> Result<AuthSecret, SecretError> {
        let chars = text.chars().count();
        if chars < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { got: chars });
        }
        if text.chars().any(char::is_control) {
            return Err(SecretError::ControlCharacter);
        }
        Ok(AuthSecret(Zeroizing::new(text.to_owned())))
    }

    /// The key Auth.js uses for cookies named `salt`.
    pub fn key_for(&self, salt: &str) -> SessionKey {
        let info = format!("Auth.js Generated Encryption Key ({salt})");
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(Some(salt.as_bytes()), self.0.as_bytes())
            .expand(info.as_bytes(), &mut key[..])
            .expect("64 bytes is within HKDF-SHA256's 8160-byte limit");
        let kid = thumbprint(&key[..]);
        SessionKey {
            salt: salt.to_owned(),
            key,
            kid,
        }
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(<redacted>)")
    }
}

/// The derived `A256CBC-HS512` key for one cookie name, with the `kid` Auth.js puts beside it.
pub struct SessionKey {
    salt: String,
    key: Zeroizing<[u8; KEY_LEN]>,
    kid: String,
}

impl SessionKey {
    /// The cookie name (HKDF salt) this key belongs to.
    pub fn cookie_name(&self) -> &str {
        &self.salt
    }

    /// The JWK thumbprint Auth.js sends as the JWE `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The HMAC-SHA-512 half (first 32 bytes, RFC 7518 section 5.2.2.1).
    pub(crate) fn mac_key(&self) -> &[u8] {
        &self.key[..KEY_LEN / 2]
    }

    /// The AES-256-CBC half (last 32 bytes).
    pub(crate) fn enc_key(&self) -> &[u8] {
        &self.key[KEY_LEN / 2..]
    }

    /// The raw key, for the interop vectors' check of the derivation.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.key[..]
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("cookie_name", &self.salt)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of `{"kty":"oct","k":…}`: members in lexical order, no whitespace,
/// SHA-512 because jose picks `sha${keyBits}` for a 512-bit key.
fn thumbprint(key: &[u8]) -> String {
    // Built in one buffer large enough never to reallocate, so no unzeroized copy of the key's
    // encoding is left behind.
    let mut jwk = Zeroizing::new(String::with_capacity(128));
    jwk.push_str(r#"{"k":""#);
    URL_SAFE_NO_PAD.encode_string(key, &mut jwk);
    jwk.push_str(r#"","kty":"oct"}"#);
    URL_SAFE_NO_PAD.encode(Sha512::digest(jwk.as_bytes()))
}
