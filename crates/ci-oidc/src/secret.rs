//! A string that holds a secret (an OIDC token, a request token, a key).
//!
//! Tokens end up in `Debug` output far more often than anyone intends: a `#[derive(Debug)]`
//! on a request struct, a `tracing` field, an error message. Wrapping them in [`SecretString`]
//! makes every such accident print `[redacted]`, and wipes the bytes when the value is dropped.

use std::fmt;

use zeroize::Zeroize;

/// A secret string: `Debug` and `Display` print `[redacted]`; the memory is zeroed on drop.
///
/// The only way to read the value is [`SecretString::expose_secret`], which makes every use
/// greppable in review.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Never log or format the result.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length in bytes; safe to log.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for SecretString {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

/// Constant-time comparison, so comparing a presented secret with a stored one leaks no
/// timing about where they differ (lengths may differ in time; they are not secret).
impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = SecretString::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    [redacted],\n)");
        assert_eq!(s.expose_secret(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
        assert_eq!(s, SecretString::from("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
        assert_ne!(s, SecretString::from("eyJhbGciOiJSUzI1NiJ9.e30.c2lm"));
    }
}
