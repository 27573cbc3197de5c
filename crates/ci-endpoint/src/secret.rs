//! An endpoint's secrets, read once at start-up by the kit so that every endpoint treats them the
//! same way: missing or blank means the endpoint is listed `ready:false` and answers 500
//! `misconfigured`; present but malformed stops start-up with the endpoint's own message (which
//! says how to make a good one). Handlers receive each one through the [`Secret`] extractor, found
//! by its type, so an endpoint may declare several (one type each).

use std::{
    any::{Any, TypeId},
    collections::BTreeMap,
    convert::Infallible,
    ffi::OsString,
    sync::Arc,
};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use zeroize::Zeroizing;

use crate::{CiError, server::EndpointState, server::StartupError};

/// A parsed secret or configuration, type-erased so that [`EndpointState`] needs no type
/// parameter.
pub(crate) type Loaded = Arc<dyn Any + Send + Sync>;

/// The parser an endpoint registers: the variable's text to the secret, or what is wrong with it.
type Parse = Box<dyn Fn(&str) -> Result<Loaded, String> + Send + Sync>;

/// Which variable holds one of an endpoint's secrets, its type and how to parse it
/// ([`crate::Endpoint::with_secret`]).
pub(crate) struct SecretSpec {
    pub(crate) var: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    parse: Parse,
}

impl SecretSpec {
    pub(crate) fn new<T: Send + Sync + 'static>(
        var: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> SecretSpec {
        SecretSpec {
            var,
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
            parse: Box::new(move |text| parse(text).map(|secret| Arc::new(secret) as Loaded)),
        }
    }

    /// Reads the variable from `env` (the process environment when `None`). `Ok(None)`: not ready.
    pub(crate) fn load(
        &self,
        endpoint: &'static str,
        env: Option<&Env>,
    ) -> Result<Option<Loaded>, StartupError> {
        let value = match env {
            Some(env) => env.0.get(self.var).cloned(),
            None => std::env::var_os(self.var),
        };
        let Some(value) = value else {
            tracing::warn!(
                endpoint,
                "{} is not set: the endpoint answers 500 misconfigured",
                self.var
            );
            return Ok(None);
        };
        let text = Zeroizing::new(
            value
                .into_string()
                .map_err(|_| StartupError::config(self.var, "is not valid UTF-8"))?,
        );
        if text.trim().is_empty() {
            tracing::warn!(
                endpoint,
                "{} is empty: the endpoint answers 500 misconfigured",
                self.var
            );
            return Ok(None);
        }
        (self.parse)(&text)
            .map(Some)
            .map_err(|message| StartupError::config(self.var, message))
    }
}

/// One declared secret as the running endpoint holds it.
#[derive(Clone)]
pub(crate) struct LoadedSecret {
    pub(crate) var: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) value: Option<Loaded>,
}

/// Variables the kit reads endpoint secrets from instead of the process environment
/// ([`crate::server::AppOptions::with_env`]); tests use it because setting process variables is
/// unsafe.
#[derive(Clone, Default)]
pub(crate) struct Env(pub(crate) Arc<BTreeMap<String, OsString>>);

impl std::fmt::Debug for Env {
    // Names only: the values are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One of the endpoint's secrets, the one declared with [`crate::Endpoint::with_secret`] for the
/// type `T`. Extracting it never fails, so the handler decides where in its checks a missing
/// secret counts: [`Secret::get`] answers 500 `misconfigured` (and logs the variable) when the
/// deployment has none.
///
/// ```
/// # use ci_endpoint::{CiError, Secret};
/// struct ApiKey(String);
///
/// async fn handle(key: Secret<ApiKey>) -> Result<String, CiError> {
///     let key = key.get()?; // 500 `misconfigured` when the deployment has no API_KEY
///     Ok(format!("{} bytes", key.0.len()))
/// }
/// ```
pub struct Secret<T> {
    value: Option<Arc<T>>,
    lookup: Lookup,
}

/// What the extractor found for `T`, kept to say precisely what is wrong in [`Secret::get`].
enum Lookup {
    Declared {
        var: &'static str,
    },
    /// The handler asks for a type the endpoint declared no secret of: a bug in the endpoint.
    Undeclared {
        declared: String,
    },
}

impl<T> Secret<T> {
    /// The secret, or 500 `misconfigured` with an error log naming the variable. A handler asking
    /// for a type the endpoint never declared (`Secret<T>` and `with_secret` disagree) gets 500
    /// `internal`, logged as the bug it is.
    pub fn get(&self) -> Result<&T, CiError> {
        if let Some(value) = self.value.as_deref() {
            return Ok(value);
        }
        match &self.lookup {
            Lookup::Declared { var } => {
                tracing::error!("{var} is not configured in this deployment");
                Err(CiError::Misconfigured)
            }
            Lookup::Undeclared { declared } => {
                tracing::error!(
                    "the handler asks for Secret<{}> but the endpoint declares no secret of that \
                     type (declared: {declared}): make the handler's type and \
                     Endpoint::with_secret's parser agree",
                    std::any::type_name::<T>()
                );
                Err(CiError::Internal)
            }
        }
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let var = match &self.lookup {
            Lookup::Declared { var } => *var,
            Lookup::Undeclared { .. } => "(undeclared)",
        };
        f.debug_struct("Secret")
            .field("var", &var)
            .field("present", &self.value.is_some())
            .finish()
    }
}

impl<S, T> FromRequestParts<S> for Secret<T>
where
    EndpointState: FromRef<S>,
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let state = EndpointState::from_ref(state);
        let secrets = state.secrets();
        let Some(found) = secrets.iter().find(|s| s.type_id == TypeId::of::<T>()) else {
            let declared = secrets
                .iter()
                .map(|s| format!("{} as {}", s.var, s.type_name))
                .collect::<Vec<_>>();
            let declared = if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.join(", ")
            };
            return Ok(Secret {
                value: None,
                lookup: Lookup::Undeclared { declared },
            });
        };
        let value = found
            .value
            .as_ref()
            .and_then(|secret| secret.clone().downcast::<T>().ok());
        Ok(Secret {
            value,
            lookup: Lookup::Declared { var: found.var },
        })
    }
}
