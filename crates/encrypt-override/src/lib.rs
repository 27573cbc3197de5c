//! The `flags/encrypt-override` CI endpoint and the Flags-SDK-compatible cookie codec behind it.
//!
//! CI jobs need a `vercel-flag-overrides` cookie to exercise a preview with flags forced on, but
//! must not hold `FLAGS_SECRET`. The preview deployment holds it instead and mints cookies for
//! callers the endpoint kit has verified. The codec ([`encrypt_overrides`], [`decrypt`] and
//! friends) works without a server, for tests and tools.

#![warn(missing_docs, unreachable_pub)]

mod codec;
mod endpoint;
mod secret;

pub use codec::{
    COOKIE_NAME, DecryptError, EncryptError, MAX_COOKIE_LEN, MAX_TOKEN_LEN, cookie_len_for,
    decrypt, decrypt_overrides, decrypt_overrides_detailed, default_exp, encrypt_overrides,
    now_unix,
};
pub use secret::{FlagsSecret, KEY_LEN, SecretError};

pub use endpoint::{NAME, SECRET_VAR, endpoint};

#[cfg(test)]
mod tests;
