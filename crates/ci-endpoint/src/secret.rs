//! An endpoint's secret, read once at start-up by the kit so that every endpoint treats it the
//! same way: missing or blank means the endpoint is listed `ready:false` and answers 500
//! `misconfigured`; present but malformed stops start-up with the endpoint's own message (which
//! says how to make a good one). Handlers receive it through the [`Secret`] extractor.

use std::{any::Any, collections::BTreeMap, convert::Infallible, ffi::OsString, sync::Arc};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use zeroize::Zeroizing;

use crate::{CiError, EndpointState, StartupError};

/// A parsed secret, type-erased so that [`EndpointState`] needs no type parameter.
pub(crate) type Loaded = Arc<dyn Any + Send + Sync>;

/// The parser an endpoint registers: the variable's text to the secret, or what is wrong with it.
type Parse = Box<dyn Fn(&str) -> Result<Loaded, String> + Send + Sync>;

/// Which variable holds an endpoint's secret and how to parse it ([`crate::Endpoint::with_secret`]).
pub(crate) struct SecretSpec {
    pub(crate) var: &'static str,
    parse: Parse,
}

impl SecretSpec {
    pub(crate) fn new<T: Send + Sync + 'static>(
        var: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> SecretSpec {
        SecretSpec {
            var,
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

/// Variables the kit reads endpoint secrets from instead of the process environment
/// ([`crate::AppOptions::with_env`]); tests use it because setting process variables is unsafe.
#[derive(Clone, Default)]
pub(crate) struct Env(pub(crate) Arc<BTreeMap<String, OsString>>);

impl std::fmt::Debug for Env {
    // Names only: the values are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The endpoint's secret, as declared with [`crate::Endpoint::with_secret`]. Extracting it never
/// fails, so the handler decides where in its checks a missing secret counts: [`Secret::get`]
/// answers 500 `misconfigured` (and logs it) when the deployment has none.
pub struct Secret<T> {
    value: Option<Arc<T>>,
    var: &'static str,
}

impl<T> Secret<T> {
    /// The secret, or 500 `misconfigured` with an error log naming the variable.
    pub fn get(&self) -> Result<&T, CiError> {
        self.value.as_deref().ok_or_else(|| {
            tracing::error!("{} is not configured in this deployment", self.var);
            CiError::Misconfigured
        })
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("var", &self.var)
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
        let (var, loaded) = state.secret();
        // A type other than the declared one is a bug in the endpoint: fail closed as missing.
        let value = loaded.and_then(|secret| secret.clone().downcast::<T>().ok());
        Ok(Secret {
            value,
            var: var.unwrap_or("(no secret declared)"),
        })
    }
}
