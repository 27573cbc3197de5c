//! `FLAGS_SECRET`, the 32-byte key shared with the Flags SDK.
//!
//! The SDK decodes the secret with Node's lenient `Buffer.from(s, "base64url")`, so users write it
//! in several shapes (see `CONTRACT.md` §5 and the `secret_encoding_variants` vectors). We
//! accept the same useful shapes (either alphabet, padding optional, surrounding whitespace) but
//! refuse anything that is not base64 outright instead of imitating how Node skips garbage
//! characters: a typo in a secret should stop the server at start-up, not yield a different key.
//!
//! The raw bytes are zeroized on drop, and so is the AES key schedule built from them
//! (`aes-gcm`'s `zeroize` feature).

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

/// Key length the SDK insists on (`A256GCM` with `alg: dir`).
pub const KEY_LEN: usize = 32;

/// How to make a good secret; repeated in every parse error so the fix is one copy-paste away.
const HOW_TO_GENERATE: &str = "generate one with `openssl rand -base64 32` or \
     `node -e \"console.log(crypto.randomBytes(32).toString('base64url'))\"`";

/// Decodes after the standard alphabet has been mapped onto the URL-safe one and padding dropped.
/// Trailing bits are allowed because Node allows them; they only matter for hand-made secrets.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Why a `FLAGS_SECRET` value was refused. The messages never contain the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// Blank after trimming.
    Empty,
    /// Not base64url or base64.
    NotBase64,
    /// Decodes to a length other than 32 bytes.
    WrongLength {
        /// The decoded length.
        got: usize,
    },
    /// The AES-256-GCM key could not be built.
    Crypto,
}

impl SecretError {
    /// What is wrong, without the variable's name, plus how to make a good secret: for callers
    /// that already say which variable they read (`FLAGS_SECRET: …`).
    pub fn problem(&self) -> String {
        let what = match self {
            SecretError::Empty => "is empty".to_owned(),
            SecretError::NotBase64 => {
                "is not valid base64url or base64 (it must encode exactly 32 random bytes)"
                    .to_owned()
            }
            SecretError::WrongLength { got } => format!(
                "decodes to {got} bytes but the Flags SDK needs a 256-bit key (exactly 32 bytes)"
            ),
            SecretError::Crypto => "could not be loaded as an AES-256-GCM key".to_owned(),
        };
        format!("{what}; {HOW_TO_GENERATE}")
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FLAGS_SECRET {}", self.problem())
    }
}

impl std::error::Error for SecretError {}

/// The decoded Flags SDK key. `Debug` prints `FlagsSecret([redacted])`. Not `Clone`: share it
/// behind an `Arc` so there is one copy of the key in memory.
pub struct FlagsSecret {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    aead: Aes256Gcm,
}

impl FlagsSecret {
    /// Parses a secret the way the SDK reads `FLAGS_SECRET` (see the module doc for what differs).
    pub fn parse(raw: &str) -> Result<FlagsSecret, SecretError> {
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Err(SecretError::Empty);
        }
        let unpadded = trimmed.trim_end_matches('=');
        // A copy is unavoidable to normalise the alphabet; keep it out of freed heap memory.
        let normalised: Zeroizing<Vec<u8>> = Zeroizing::new(
            unpadded
                .bytes()
                .map(|b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    other => other,
                })
                .collect(),
        );
        let decoded = Zeroizing::new(
            LENIENT
                .decode(normalised.as_slice())
                .map_err(|_| SecretError::NotBase64)?,
        );
        if decoded.len() != KEY_LEN {
            return Err(SecretError::WrongLength { got: decoded.len() });
        }
        // Copied straight into its zeroizing home rather than through a bare stack array.
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Self::from_zeroizing(bytes)
    }

    /// Builds a secret from raw key bytes (tests, benchmarks, callers holding a key already).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Result<FlagsSecret, SecretError> {
        Self::from_zeroizing(Zeroizing::new(bytes))
    }

    fn from_zeroizing(bytes: Zeroizing<[u8; KEY_LEN]>) -> Result<FlagsSecret, SecretError> {
        let aead = Aes256Gcm::new_from_slice(bytes.as_slice()).map_err(|_| SecretError::Crypto)?;
        Ok(FlagsSecret { bytes, aead })
    }

    /// The raw key, for comparisons in tests and for tools that must hand it on.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// The canonical spelling, as `crypto.randomBytes(32).toString('base64url')` would print it.
    /// Meant for handing the secret to the SDK in tests and tools; never log it.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.bytes.as_slice()),
        )
    }

    pub(crate) fn aead(&self) -> &Aes256Gcm {
        &self.aead
    }
}

impl fmt::Debug for FlagsSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlagsSecret([redacted])")
    }
}
