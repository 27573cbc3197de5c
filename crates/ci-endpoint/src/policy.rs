//! The whole `ci-policy.toml` (`CONTRACT.md` §4): which environments serve CI routes, which issuer
//! to trust, and one `[endpoints."NAME"]` table per endpoint. It is reviewed like code, so a
//! mistake must stop the server at start-up with the offending key named, never be guessed around.

use std::collections::BTreeMap;

use ci_oidc::{EndpointPolicy, IssuerConfig};
use serde::{Deserialize, Deserializer, de::Error as _};

/// Environments that serve CI routes when the policy does not say (`serve_in`). An entry is an
/// environment name, matched exactly, or a name with one `{pr}` standing for a pull request
/// number (`app-pr-{pr}`: Railway names its PR environments after the pull request).
pub const DEFAULT_SERVE_IN: [&str; 2] = ["preview", "development"];

/// The environment in which CI routes must never exist, whatever the policy says.
const PRODUCTION: &str = "production";

/// Why a policy was refused. `Display` names the key, e.g.
/// `endpoints."flags/encrypt-override".workflows: must not be empty`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, an unknown key, a wrong type, a missing required key: toml's message, which
    /// quotes the line and points at the key.
    #[error("invalid policy: {0}")]
    Syntax(String),
    /// Well-formed TOML with a value the policy does not allow.
    #[error("invalid policy: {key}: {message}")]
    Invalid {
        /// The key at fault, e.g. `endpoints."NAME".workflows[0]`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "default_serve_in")]
    serve_in: Vec<String>,
    #[serde(default)]
    stealth: bool,
    issuer: IssuerConfig,
    #[serde(default)]
    endpoints: BTreeMap<String, Entry>,
}

/// One `[endpoints."NAME"]` table: who may call (ci-oidc's [`EndpointPolicy`], unknown keys
/// refused) and, in its `config` sub-table, the endpoint's own settings, which only the endpoint's
/// type can check ([`crate::EndpointConfig`]).
struct Entry {
    policy: EndpointPolicy,
    config: Option<toml::Table>,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entry, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let config = match table.remove("config") {
            None => None,
            Some(toml::Value::Table(config)) => Some(config),
            Some(_) => {
                return Err(D::Error::custom(
                    "`config` must be a table: [endpoints.\"NAME\".config]",
                ));
            }
        };
        let policy: EndpointPolicy = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|error| {
                let path = error.path().to_string();
                let inner = error.into_inner();
                if path == "." {
                    D::Error::custom(inner)
                } else {
                    D::Error::custom(format!("{path}: {inner}"))
                }
            })?;
        Ok(Entry { policy, config })
    }
}

fn default_serve_in() -> Vec<String> {
    DEFAULT_SERVE_IN.iter().map(|s| (*s).to_owned()).collect()
}

/// A parsed and validated policy, with the SHA-256 of the exact bytes it came from (health
/// reports it so a reviewer can tell which policy a deployment runs).
#[derive(Debug, Clone)]
pub struct Policy {
    serve_in: Vec<String>,
    stealth: bool,
    issuer: IssuerConfig,
    endpoints: BTreeMap<String, EndpointPolicy>,
    configs: BTreeMap<String, toml::Table>,
    sha256_hex: String,
}

impl Policy {
    /// Parses and validates `text`; the error names the key at fault.
    pub fn from_toml_str(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text)
            .map_err(|e| PolicyError::Syntax(e.to_string().trim().to_owned()))?;
        validate_serve_in(&file.serve_in)?;
        file.issuer
            .validate()
            .map_err(|e| PolicyError::invalid(e.key, e.message))?;
        let mut endpoints = BTreeMap::new();
        let mut configs = BTreeMap::new();
        for (name, entry) in file.endpoints {
            validate_endpoint_name(&name)?;
            entry.policy.validate().map_err(|e| {
                PolicyError::invalid(format!("endpoints.{name:?}.{}", e.key), e.message)
            })?;
            if let Some(config) = entry.config {
                configs.insert(name.clone(), config);
            }
            endpoints.insert(name, entry.policy);
        }
        Ok(Policy {
            serve_in: file.serve_in,
            stealth: file.stealth,
            issuer: file.issuer,
            endpoints,
            configs,
            sha256_hex: sha256_hex(text.as_bytes()),
        })
    }

    /// The environments CI routes are served in.
    pub fn serve_in(&self) -> &[String] {
        &self.serve_in
    }

    /// `stealth = true`: every request not verified answers like a path that does not exist
    /// (default false; see `CONTRACT.md` §4).
    pub fn stealth(&self) -> bool {
        self.stealth
    }

    /// The trusted issuer (`[issuer]`).
    pub fn issuer(&self) -> &IssuerConfig {
        &self.issuer
    }

    /// The endpoint entries, by name.
    pub fn endpoints(&self) -> &BTreeMap<String, EndpointPolicy> {
        &self.endpoints
    }

    /// The entry for one endpoint.
    pub fn endpoint(&self, name: &str) -> Option<&EndpointPolicy> {
        self.endpoints.get(name)
    }

    /// The `config` table of one endpoint's entry, if it has one.
    pub(crate) fn endpoint_config(&self, name: &str) -> Option<&toml::Table> {
        self.configs.get(name)
    }

    /// Lower-case hex SHA-256 of the policy file's bytes.
    pub fn sha256_hex(&self) -> &str {
        &self.sha256_hex
    }
}

fn validate_serve_in(serve_in: &[String]) -> Result<(), PolicyError> {
    for env in serve_in {
        if env.trim().is_empty() {
            return Err(PolicyError::invalid(
                "serve_in",
                "entries must not be empty",
            ));
        }
        let placeholders = env.matches(crate::deployment::PR_PLACEHOLDER).count();
        let braces = env.bytes().filter(|b| *b == b'{' || *b == b'}').count();
        if placeholders > 1 || braces != 2 * placeholders {
            return Err(PolicyError::invalid(
                "serve_in",
                format!(
                    "{env:?}: the only pattern is one `{{pr}}` standing for a pull request \
                     number (e.g. \"app-pr-{{pr}}\" for Railway's PR environments)"
                ),
            ));
        }
        if env.eq_ignore_ascii_case(PRODUCTION) {
            return Err(PolicyError::invalid(
                "serve_in",
                "\"production\" is not allowed: CI routes never exist in production",
            ));
        }
    }
    Ok(())
}

/// Endpoint names become URL paths (`/api/~/ci/{name}`) and token audiences are usually derived
/// from them, so they are kept boring: lower-case segments of `a-z`, `0-9`, `-`, `_`, joined by `/`.
fn validate_endpoint_name(name: &str) -> Result<(), PolicyError> {
    let key = format!("endpoints.{name:?}");
    if name == "health" {
        return Err(PolicyError::invalid(key, "the name \"health\" is reserved"));
    }
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if !name.split('/').all(segment_ok) {
        return Err(PolicyError::invalid(
            key,
            "name must be lower-case segments of a-z, 0-9, '-' or '_' joined by '/'",
        ));
    }
    Ok(())
}

pub(crate) fn is_valid_endpoint_name(name: &str) -> bool {
    validate_endpoint_name(name).is_ok()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ci_oidc::sha256(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn endpoint_names() {
        for ok in ["flags/encrypt-override", "a", "db/seed_v2"] {
            assert!(is_valid_endpoint_name(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "Flags/x", "a b", "health", "a/../b", "a.b",
        ] {
            assert!(!is_valid_endpoint_name(bad), "{bad}");
        }
    }
}
