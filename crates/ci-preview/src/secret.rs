//! A redacted string for the three secrets the client handles: the OIDC token, the runner's
//! token-request bearer and the deployment-protection bypass (and the cookie an endpoint returns).
//!
//! The client keeps its own small newtype instead of depending on `ci_oidc::SecretString`: the
//! client never verifies a token, so pulling the verifier crate (JWKS, RSA, policy types) into the
//! binary a workflow runs would only couple its build to the server side. The behaviour is the same
//! contract: `Debug`/`Display` print `[redacted]`, the bytes are zeroed on drop, and reading the
//! value takes an explicit `expose()`.

use std::fmt;

use zeroize::Zeroizing;

/// A string that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that has to send it (a header, a mask line).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_formats_its_value() {
        let secret = Secret::new("hunter2-token");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-token");
    }

    #[test]
    fn blank_counts_as_empty() {
        assert!(Secret::new("  \n").is_empty());
        assert!(!Secret::new("x").is_empty());
    }
}
