//! The `proxy/…` CI endpoints: provisioning calls (Clerk testing tokens, a test-server API,
//! payment-provider test mode) made by the preview with its own secret, so CI holds none.
//!
//! Each endpoint is declared by its policy entry ([`ProxyConfig`]): one https URL and method, the
//! headers (with the preview's `${VAR}`), what of the caller's body goes on and the limits. The
//! caller chooses nothing of the target. The call verifies TLS, follows no redirect, has a
//! deadline, reads at most `max_response_bytes` and scrubs the secret from the answer and logs.

#![warn(missing_docs, unreachable_pub)]

mod config;
mod endpoint;
mod upstream;

pub use config::{
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_SECS, MAX_BODY_BYTES,
    MAX_REQUEST_BYTES, MAX_TIMEOUT_SECS, ProxyConfig,
};
pub use endpoint::{endpoint, endpoint_with};
pub use upstream::{REDACTED, UPSTREAM_CA_FILE_VAR, UpstreamClient, UpstreamSecret};

/// Every proxy endpoint's name starts with this.
pub const NAME_PREFIX: &str = "proxy/";
