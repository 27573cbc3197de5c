//! The `auth/encrypt-session` CI endpoint and the Auth.js-compatible session cookie codec behind it.
//!
//! End-to-end suites log a test user in by setting an Auth.js session cookie, which today means the
//! app's `AUTH_SECRET` sits in CI. The preview deployment holds it instead and encrypts sessions for
//! callers the endpoint kit has verified. The codec ([`encode`], [`decode`]) and the key derivation
//! work without a server, for tests and tools that read what the endpoint issued.

mod codec;
mod config;
mod endpoint;
mod key;
mod origin;

pub use codec::{
    CLOCK_TOLERANCE, DecodeError, EncodeError, MAX_COOKIE_LEN, cookie_len, decode, encode, seal,
    session_payload,
};
pub use config::{DEFAULT_CALLER_CLAIMS, SessionConfig};
pub use endpoint::{EXPIRES_CLAIM, NAME, RESERVED_CLAIMS, SECRET_VAR, endpoint, endpoint_with};
pub use key::{
    AuthSecret, COOKIE_NAME, MIN_SECRET_LEN, SECURE_COOKIE_NAME, SecretError, SessionKey,
};
pub use origin::CookieNames;

#[cfg(test)]
mod tests;
