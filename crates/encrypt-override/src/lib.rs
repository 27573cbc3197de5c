//! The `flags/encrypt-override` CI endpoint and the Flags-SDK-compatible cookie codec behind it.
//!
//! CI jobs need a `vercel-flag-overrides` cookie to exercise a preview with flags forced on, but
//! must not hold `FLAGS_SECRET`. The preview deployment holds it instead and mints cookies for
//! callers the endpoint kit has verified. The codec lives in [`codec`] so tests and tools can use
//! it without a server.

pub mod codec;
mod endpoint;
mod secret;

pub use codec::{
    COOKIE_NAME, DecryptError, EncryptError, FlagsSecret, MAX_COOKIE_LEN, MAX_TOKEN_LEN,
    SecretError, cookie_len_for, decrypt, decrypt_overrides, encrypt_overrides,
};

pub use endpoint::{NAME, SECRET_VAR, endpoint};

#[cfg(test)]
mod tests;
