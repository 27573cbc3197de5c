//! The sealed browser state: how the job that mints tokens hands a Playwright `storageState` to
//! the test job that cannot mint, through job outputs, without anyone who reads the run's logs or
//! artifacts being able to open it.
//!
//! `storage-state --seal` encrypts the state with a fresh random AES-256-GCM key and writes two
//! step outputs: the sealed blob (safe to print: it is ciphertext) and the key (never printed by
//! the client, and deliberately *not* masked, because the runner drops a job output that contains
//! a masked value). The caller hands the key to its test workflow only through `secrets:`, where
//! the runner masks it, and `open-state` opens the blob there (system-docs/BROWSER-STATE.md).
//!
//! The blob is base64url (no padding) of `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! The AAD is a fixed label with the version and the preview's origin, so a blob opens only as
//! this format, at this version, for the preview it was made for: handed another preview URL, the
//! opener refuses it instead of writing cookies a browser would send to the wrong place. The key is
//! base64url of 32 bytes from the kernel's CSPRNG and is used for exactly one seal, so a random
//! 96-bit nonce cannot repeat under it.

use std::fmt;

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::{CliError, Result};
use crate::secret::Secret;

/// The format's version byte, first in every blob.
pub(crate) const VERSION: u8 = 1;
/// Bound into the AAD before the origin: a blob is only ever this format at this version.
const AAD_LABEL: &str = "ci-in-preview sealed storageState v1\n";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// A job output holds at most 1 MB; anything longer did not come from `--seal`.
const MAX_BLOB_CHARS: usize = 1 << 20;

/// A one-use AES-256-GCM key: never formatted, zeroed on drop.
pub(crate) struct StateKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey([redacted])")
    }
}

impl StateKey {
    /// A fresh key from the kernel's CSPRNG.
    pub(crate) fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| {
            CliError::check("the system random number generator failed: nothing was sealed")
        })?;
        Ok(Self(key))
    }

    /// The key as the job output carries it (base64url, 43 characters).
    pub(crate) fn encode(&self) -> Secret {
        Secret::new(URL_SAFE_NO_PAD.encode(self.0.as_slice()))
    }

    /// Reads a key written by [`StateKey::encode`]; the message never contains the text given.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CliError::config(
                "the state key is empty: pass the browser-state workflow's `state-key` output to \
                 the test workflow through `secrets:` and into CI_PREVIEW_STATE_KEY (a job output \
                 that held a masked value arrives empty)",
            ));
        }
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).unwrap_or_default());
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            CliError::config(format!(
                "the state key is not the `state-key` output of `storage-state --seal` (it must \
                 be {KEY_LEN} bytes of base64url; {} characters were given)",
                text.len()
            ))
        })?;
        Ok(Self(Zeroizing::new(key)))
    }

    fn aead(&self) -> Result<Aes256Gcm> {
        Aes256Gcm::new_from_slice(self.0.as_slice())
            .map_err(|_| CliError::check("the state key could not be loaded"))
    }
}

/// The AAD: the label, then the preview's origin (`https://host[:port]`).
fn aad(origin: &str) -> Vec<u8> {
    let mut aad = AAD_LABEL.as_bytes().to_vec();
    aad.extend_from_slice(origin.as_bytes());
    aad
}

/// Seals `state` (the storageState JSON) for the preview at `origin`.
pub(crate) fn seal(state: &str, origin: &str, key: &StateKey) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| {
        CliError::check("the system random number generator failed: nothing was sealed")
    })?;
    let mut buf = Zeroizing::new(state.as_bytes().to_vec());
    let tag = key
        .aead()?
        .encrypt_inout_detached(&Nonce::from(nonce), &aad(origin), buf.as_mut_slice().into())
        .map_err(|_| CliError::check("sealing the browser state failed"))?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + buf.len() + TAG_LEN);
    blob.push(VERSION);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&buf);
    blob.extend_from_slice(tag.as_slice());
    Ok(URL_SAFE_NO_PAD.encode(blob))
}

/// Opens a blob from [`seal`] for the preview at `origin`. A blob that is not this format is a
/// configuration error (exit 2: the wrong value was passed); one that does not authenticate
/// (another key, another preview, altered or cut short) is a failed check (exit 1). Neither
/// message repeats the blob or the key.
pub(crate) fn open(blob: &str, origin: &str, key: &StateKey) -> Result<Secret> {
    let blob = blob.trim();
    if blob.is_empty() {
        return Err(CliError::config(
            "the sealed state is empty: pass the browser-state workflow's `state` output as \
             CI_PREVIEW_STATE (or --state)",
        ));
    }
    if blob.len() > MAX_BLOB_CHARS {
        return Err(CliError::config(format!(
            "the sealed state is {} characters long, more than a job output can hold: it is not \
             the `state` output of `storage-state --seal`",
            blob.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD.decode(blob).map_err(|_| {
        CliError::config(
            "the sealed state is not base64url: pass the `state` output of `storage-state --seal` \
             exactly as it was written",
        )
    })?;
    let Some((&version, rest)) = bytes.split_first() else {
        return Err(not_sealed());
    };
    if version != VERSION {
        return Err(CliError::config(format!(
            "the sealed state has format version {version}; this client opens version \
             {VERSION}: use the same ci-in-preview release in both jobs"
        )));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(does_not_open());
    }
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| not_sealed())?;
    let tag = Tag::try_from(tag).map_err(|_| not_sealed())?;
    let mut plain = Zeroizing::new(ciphertext.to_vec());
    key.aead()?
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            &aad(origin),
            plain.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| does_not_open())?;
    let text = std::str::from_utf8(&plain).map_err(|_| does_not_open())?;
    Ok(Secret::new(text))
}

fn not_sealed() -> CliError {
    CliError::config("the sealed state is not the `state` output of `storage-state --seal`")
}

fn does_not_open() -> CliError {
    CliError::check(
        "the sealed state does not open with this key for this preview: the `state` and \
         `state-key` outputs must come from the same browser-state run, the preview URL must be \
         that run's `preview-url`, and the state must arrive unaltered",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    const ORIGIN: &str = "https://app-git-x.vercel.app";
    const STATE: &str = r#"{"cookies":[{"name":"a","value":"cookie-value-1234"}],"origins":[]}"#;

    fn kind(result: Result<Secret>) -> (Kind, String) {
        let err = result.unwrap_err();
        (err.kind, err.message)
    }

    #[test]
    fn round_trip_and_the_blob_hides_the_state() {
        let key = StateKey::generate().unwrap();
        let blob = seal(STATE, ORIGIN, &key).unwrap();
        assert!(!blob.contains("cookie-value"));
        assert!(
            blob.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let key_text = key.encode();
        assert_eq!(key_text.expose().len(), 43);
        let again = StateKey::parse(key_text.expose()).unwrap();
        assert_eq!(open(&blob, ORIGIN, &again).unwrap().expose(), STATE);
        assert_eq!(format!("{key:?}"), "StateKey([redacted])");
        // Two seals never share a key or a blob.
        let other = StateKey::generate().unwrap();
        assert_ne!(other.encode(), key_text);
        assert_ne!(seal(STATE, ORIGIN, &key).unwrap(), blob);
    }

    #[test]
    fn wrong_key_or_preview_does_not_open() {
        let key = StateKey::generate().unwrap();
        let blob = seal(STATE, ORIGIN, &key).unwrap();
        let other = StateKey::generate().unwrap();
        let (k, message) = kind(open(&blob, ORIGIN, &other));
        assert_eq!(k, Kind::Check);
        assert!(message.contains("does not open"), "{message}");
        for origin in [
            "https://other-git-x.vercel.app",
            "http://app-git-x.vercel.app",
            "https://app-git-x.vercel.app:8443",
        ] {
            assert_eq!(kind(open(&blob, origin, &key)).0, Kind::Check, "{origin}");
        }
    }

    #[test]
    fn tampered_truncated_and_foreign_blobs_are_refused() {
        let key = StateKey::generate().unwrap();
        let blob = seal(STATE, ORIGIN, &key).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&blob).unwrap();
        for at in [1, 13, bytes.len() / 2, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[at] ^= 0x01;
            let altered = URL_SAFE_NO_PAD.encode(&altered);
            assert_eq!(kind(open(&altered, ORIGIN, &key)).0, Kind::Check, "{at}");
        }
        for len in [1, 12, 28, bytes.len() - 1] {
            let cut = URL_SAFE_NO_PAD.encode(&bytes[..len]);
            assert_eq!(kind(open(&cut, ORIGIN, &key)).0, Kind::Check, "{len}");
        }
        bytes[0] = 2;
        let (k, message) = kind(open(&URL_SAFE_NO_PAD.encode(&bytes), ORIGIN, &key));
        assert_eq!(k, Kind::Config);
        assert!(message.contains("version 2"), "{message}");
        for bad in [
            "",
            "  ",
            "not base64!",
            "=",
            &"A".repeat(MAX_BLOB_CHARS + 1),
        ] {
            assert_eq!(kind(open(bad, ORIGIN, &key)).0, Kind::Config, "{bad:.8}");
        }
    }

    #[test]
    fn bad_keys_are_configuration_errors_that_never_echo_the_key() {
        for bad in [
            "",
            "short",
            "hunter2-hunter2-hunter2-hunter2-hunter2-hunter2",
            "!!!",
        ] {
            let err = StateKey::parse(bad).unwrap_err();
            assert_eq!(err.kind, Kind::Config, "{bad}");
            assert!(
                bad.is_empty() || !err.message.contains(bad),
                "{}",
                err.message
            );
        }
    }
}
