//! An endpoint's own settings, typed: the `[endpoints."NAME".config]` table of its policy entry,
//! deserialized into the endpoint's type and validated at start-up, so that a wrong value stops
//! the server naming the key (`endpoints."cleanup/kv".config.max_deletions: …`) instead of
//! surfacing at the first CI call. Settings live in the policy because they decide what a
//! verified caller can make the endpoint do, which is reviewed like code; secrets do not
//! ([`crate::Secret`]).
//!
//! ```toml
//! [endpoints."cleanup/kv".config]
//! patterns = ["e2e:{repository_id}:{run_id}:*"]
//! max_deletions = 500
//! ```

use std::{any::TypeId, fmt, ops::Deref, sync::Arc};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::{CiError, secret::Loaded, server::EndpointState};

/// An endpoint's settings type. Deserialized with serde from the entry's `config` table (an
/// absent table deserializes as an empty one, so `#[serde(default)]` fields may be left out), then
/// [`validate`](EndpointConfig::validate)d, both at start-up. Use `#[serde(deny_unknown_fields)]`
/// so a misspelled key stops start-up too.
///
/// ```
/// use ci_endpoint::{ConfigError, EndpointConfig};
///
/// #[derive(Debug, serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Settings {
///     patterns: Vec<String>,
///     #[serde(default = "default_max")]
///     max_deletions: usize,
/// }
/// fn default_max() -> usize { 1000 }
///
/// impl EndpointConfig for Settings {
///     fn validate(&self) -> Result<(), ConfigError> {
///         if !(1..=10_000).contains(&self.max_deletions) {
///             return Err(ConfigError::new("max_deletions", "must be between 1 and 10000"));
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait EndpointConfig: DeserializeOwned + Send + Sync + 'static {
    /// Checks what serde cannot (ranges, required combinations). The default accepts anything
    /// that deserialized.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// What is wrong with one setting: the key (relative to the `config` table, e.g.
/// `patterns[1]`) and the message. Start-up reports it as
/// `invalid policy: endpoints."NAME".config.KEY: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    key: String,
    message: String,
}

impl ConfigError {
    /// The setting `key` is wrong: `message` says why and, where it can, how to fix it.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key at fault, relative to the `config` table (empty: the table itself).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

type Parse = Box<dyn Fn(toml::Table) -> Result<Loaded, ConfigError> + Send + Sync>;

/// The settings type an endpoint declared ([`crate::Endpoint::with_config`]).
pub(crate) struct ConfigSpec {
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    parse: Parse,
}

impl ConfigSpec {
    pub(crate) fn new<T: EndpointConfig>() -> ConfigSpec {
        ConfigSpec {
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
            parse: Box::new(|table| {
                let value = toml::Value::Table(table);
                let settings: T = serde_path_to_error::deserialize(value).map_err(|error| {
                    let path = error.path().to_string();
                    let key = if path == "." { String::new() } else { path };
                    ConfigError::new(key, error.into_inner().to_string())
                })?;
                settings.validate()?;
                Ok(Arc::new(settings) as Loaded)
            }),
        }
    }

    /// Deserializes and validates `table` (the entry's `config`, empty when absent).
    pub(crate) fn load(&self, table: toml::Table) -> Result<Loaded, ConfigError> {
        (self.parse)(table)
    }
}

/// The endpoint's settings, as declared with [`crate::Endpoint::with_config`] and validated at
/// start-up. Dereferences to `T`.
///
/// ```
/// # use ci_endpoint::{CiError, Config, EndpointConfig};
/// #[derive(serde::Deserialize)]
/// struct Settings { greeting: String }
/// impl EndpointConfig for Settings {}
///
/// async fn handle(settings: Config<Settings>) -> Result<String, CiError> {
///     Ok(settings.greeting.clone())
/// }
/// ```
pub struct Config<T>(Arc<T>);

impl<T> Deref for Config<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Config<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Config").field(&self.0).finish()
    }
}

impl<S, T> FromRequestParts<S> for Config<T>
where
    EndpointState: FromRef<S>,
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = CiError;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, CiError> {
        Config::of(&EndpointState::from_ref(state))
    }
}

impl<T: Send + Sync + 'static> Config<T> {
    /// The settings `state` holds, if they are a `T`; otherwise the handler and the endpoint's
    /// declaration disagree, which is the endpoint author's bug (logged, 500).
    pub(crate) fn of(state: &EndpointState) -> Result<Config<T>, CiError> {
        let found = state
            .config()
            .filter(|(type_id, _, _)| *type_id == TypeId::of::<T>())
            .and_then(|(_, _, loaded)| loaded.clone().downcast::<T>().ok());
        found.map(Config).ok_or_else(|| {
            let declared = state.config().map_or("none", |(_, name, _)| name);
            tracing::error!(
                "the handler asks for Config<{}> but the endpoint declares {declared}: make the \
                 handler's type and Endpoint::with_config's type agree",
                std::any::type_name::<T>()
            );
            CiError::Internal
        })
    }
}
