//! Who a session may be: the endpoint's `[endpoints."auth/encrypt-session".config]` table. A
//! session cookie logs its holder in as the user it names, so the policy (reviewed like code)
//! decides which test users exist, never the caller: `subjects` lists the `sub` values a session
//! may carry, exactly, and `caller_claims` the other claims a caller may set (any JSON value).
//! Validated at start-up; every error names the key, and an entry without the table stops
//! start-up (`config.subjects: missing field`), so a policy written before the allowlist existed
//! fails closed instead of issuing any identity.
//!
//! ```toml
//! [endpoints."auth/encrypt-session".config]
//! subjects = ["e2e-user-1"]
//! caller_claims = ["name", "email", "picture"] # the default
//! ```

use ci_endpoint::{ConfigError, EndpointConfig};
use serde::Deserialize;

use crate::endpoint::RESERVED_CLAIMS;

/// The claims a caller may set when the policy does not say: the profile claims Auth.js's own
/// JWT callback writes beside `sub`.
pub const DEFAULT_CALLER_CLAIMS: [&str; 3] = ["name", "email", "picture"];

/// The `auth/encrypt-session` keys of the endpoint's policy entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// The test users (`sub`) a session may name, exactly; required, not empty.
    pub subjects: Vec<String>,
    /// Names of the claims besides `sub` a caller may set (any JSON value); default
    /// [`DEFAULT_CALLER_CLAIMS`]. Never a reserved claim ([`RESERVED_CLAIMS`]). Values are the
    /// caller's: leave out any claim your app decides who the user is by (an app that looks
    /// users up by `email` should not list `email`).
    #[serde(default = "default_caller_claims")]
    pub caller_claims: Vec<String>,
}

fn default_caller_claims() -> Vec<String> {
    DEFAULT_CALLER_CLAIMS.map(str::to_owned).to_vec()
}

impl EndpointConfig for SessionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.subjects.is_empty() {
            return Err(ConfigError::new(
                "subjects",
                "list at least one test user (the `sub` of the sessions this endpoint may issue)",
            ));
        }
        for (i, subject) in self.subjects.iter().enumerate() {
            if subject.trim().is_empty() || subject.trim() != subject {
                return Err(ConfigError::new(
                    format!("subjects[{i}]"),
                    "a subject is a non-blank string without surrounding spaces",
                ));
            }
        }
        for (i, claim) in self.caller_claims.iter().enumerate() {
            let key = format!("caller_claims[{i}]");
            if RESERVED_CLAIMS.contains(&claim.as_str()) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "{claim:?} is reserved: the endpoint or the app sets it, never a caller"
                    ),
                ));
            }
            if claim == "sub" {
                return Err(ConfigError::new(key, "`sub` is governed by `subjects`"));
            }
            if claim.is_empty() {
                return Err(ConfigError::new(key, "a claim name is not empty"));
            }
        }
        Ok(())
    }
}
