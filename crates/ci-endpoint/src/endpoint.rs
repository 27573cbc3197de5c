//! What an endpoint crate hands the kit ([`Endpoint`]) and what the kit keeps for it once
//! start-up has checked it against its policy entry and read its secrets and settings
//! ([`EndpointState`], the router state the extractors read).

use std::{any::TypeId, sync::Arc};

use axum::routing::MethodRouter;
use ci_oidc::{EndpointPolicy, Verifier};

use crate::{
    EndpointConfig,
    config::ConfigSpec,
    deployment::Deployment,
    guards::Guards,
    policy::{Policy, PolicyError},
    secret::{Loaded, LoadedSecret, SecretSpec},
    server::{AppOptions, StartupError, replay::ReplayStore},
};

/// What an endpoint crate exports: its name (the path under `/api/~/ci/` and the key of its
/// policy entry), the handlers of that path, the secrets and settings it needs, and whether it
/// destroys data. The kit reads secrets and settings at start-up and wraps every request in one
/// span naming the endpoint and the verified caller, so a handler holds only its own work.
///
/// ```
/// use axum::routing::post;
/// use ci_endpoint::{Endpoint, VerifiedCaller};
///
/// async fn handle(caller: VerifiedCaller) -> String {
///     format!("hello, {}", caller.claims().repository.as_deref().unwrap_or("?"))
/// }
///
/// pub fn endpoint() -> Endpoint {
///     Endpoint::new("examples/hello", post(handle))
/// }
/// # let _ = endpoint();
/// ```
pub struct Endpoint {
    pub(crate) name: &'static str,
    pub(crate) route: MethodRouter<EndpointState>,
    secrets: Vec<SecretSpec>,
    config: Option<ConfigSpec>,
    destructive: bool,
}

impl Endpoint {
    /// The endpoint `name` served by `route` (e.g. `post(handle)`) at `/api/~/ci/{name}`.
    pub fn new(name: &'static str, route: MethodRouter<EndpointState>) -> Endpoint {
        Endpoint {
            name,
            route,
            secrets: Vec::new(),
            config: None,
            destructive: false,
        }
    }

    /// Declares a secret the endpoint needs, of type `T`: the kit reads `var` at start-up, and
    /// the handler takes it as [`crate::Secret<T>`]. Missing or blank: health lists the endpoint
    /// `ready:false` and [`crate::Secret::get`] answers 500 `misconfigured`. Present: `parse`
    /// turns it into the secret, or returns what is wrong with it and how to make a good one,
    /// which stops start-up as `{var}: {message}` (never showing the value).
    ///
    /// Call it once per secret; each needs a type of its own (a newtype such as
    /// `struct ApiKey(Redacted<String>)`), as the handler finds it by type.
    ///
    /// ```
    /// # use axum::routing::post;
    /// # use ci_endpoint::{Endpoint, KvClient, Redacted, Secret};
    /// struct ApiKey(Redacted<String>);
    /// # async fn handle(_k: Secret<ApiKey>, _kv: Secret<KvClient>) {}
    ///
    /// # let _ =
    /// Endpoint::new("examples/two-secrets", post(handle))
    ///     .with_secret("EXAMPLE_API_KEY", |text| Ok(ApiKey(Redacted::new(text.trim().to_owned()))))
    ///     .with_secret("KV_URL", KvClient::parse);
    /// ```
    pub fn with_secret<T: Send + Sync + 'static>(
        mut self,
        var: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Endpoint {
        self.secrets.push(SecretSpec::new(var, parse));
        self
    }

    /// Declares the endpoint's settings: the `[endpoints."NAME".config]` table of its policy
    /// entry, deserialized into `T` and validated ([`crate::EndpointConfig`]) at start-up; the
    /// handler takes them as [`crate::Config<T>`]. A bad value stops start-up naming the key.
    pub fn with_config<T: EndpointConfig>(mut self) -> Endpoint {
        self.config = Some(ConfigSpec::new::<T>());
        self
    }

    /// Marks the endpoint as destroying data (deleting records, resetting state). Start-up then
    /// refuses to serve it unless its policy entry has the strict posture: `single_use = true`
    /// (a token buys one call), `bind_deployment = true` (only on its own run's preview) and exact
    /// workflow pins (`repository_ids` set, and every `workflows` entry a workflow file of a
    /// repository in `repositories`), so a leaked token cannot be replayed or aimed elsewhere.
    pub fn destructive(mut self) -> Endpoint {
        self.destructive = true;
        self
    }

    /// The endpoint's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let vars: Vec<&str> = self.secrets.iter().map(|s| s.var).collect();
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("secret_vars", &vars)
            .field("config", &self.config.as_ref().map(|c| c.type_name))
            .field("destructive", &self.destructive)
            .finish_non_exhaustive()
    }
}

/// The state of one endpoint's router: its name, its policy entry, the shared verifier, and what
/// start-up read for it. Handlers never name it; the kit's extractors read it. Cheap to clone.
#[derive(Clone)]
pub struct EndpointState {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    policy: EndpointPolicy,
    verifier: Verifier,
    guards: Guards,
    secrets: Vec<LoadedSecret>,
    config: Option<(TypeId, &'static str, Loaded)>,
}

impl EndpointState {
    pub(crate) fn policy(&self) -> &EndpointPolicy {
        &self.inner.policy
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub(crate) fn guards(&self) -> &Guards {
        &self.inner.guards
    }

    pub(crate) fn secrets(&self) -> &[LoadedSecret] {
        &self.inner.secrets
    }

    pub(crate) fn config(&self) -> Option<(TypeId, &'static str, &Loaded)> {
        self.inner
            .config
            .as_ref()
            .map(|(type_id, name, loaded)| (*type_id, *name, loaded))
    }

    /// False when the endpoint declared a secret and the deployment lacks it.
    pub(crate) fn ready(&self) -> bool {
        self.inner.secrets.iter().all(|s| s.value.is_some())
    }
}

impl std::fmt::Debug for EndpointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointState")
            .field("name", &self.inner.name)
            .field("audience", &self.inner.policy.audience)
            .finish_non_exhaustive()
    }
}

/// Checks one endpoint against its policy entry and reads what it declared: its secrets from the
/// environment, its settings from the entry's `config` table.
pub(crate) fn load_state(
    endpoint: &Endpoint,
    entry: &EndpointPolicy,
    policy: &Policy,
    verifier: &Verifier,
    deployment: &Deployment,
    store: &ReplayStore,
    options: &AppOptions,
) -> Result<EndpointState, StartupError> {
    let name = endpoint.name;
    if endpoint.destructive {
        check_destructive_posture(name, entry)?;
    }
    let mut secrets = Vec::with_capacity(endpoint.secrets.len());
    for spec in &endpoint.secrets {
        if secrets
            .iter()
            .any(|s: &LoadedSecret| s.type_id == spec.type_id)
        {
            return Err(StartupError::DuplicateSecretType {
                name,
                type_name: spec.type_name,
            });
        }
        secrets.push(LoadedSecret {
            var: spec.var,
            type_id: spec.type_id,
            type_name: spec.type_name,
            value: spec.load(name, options.env.as_ref())?,
        });
    }
    let table = policy.endpoint_config(name);
    let config = match (&endpoint.config, table) {
        (Some(spec), table) => {
            let loaded = spec.load(table.cloned().unwrap_or_default()).map_err(|e| {
                let key = match e.key() {
                    "" => format!("endpoints.{name:?}.config"),
                    key => format!("endpoints.{name:?}.config.{key}"),
                };
                PolicyError::Invalid {
                    key,
                    message: e.message().to_owned(),
                }
            })?;
            Some((spec.type_id, spec.type_name, loaded))
        }
        (None, Some(_)) => {
            return Err(PolicyError::Invalid {
                key: format!("endpoints.{name:?}.config"),
                message: "this endpoint takes no settings: remove the table".to_owned(),
            }
            .into());
        }
        (None, None) => None,
    };
    let guards = Guards::for_endpoint(name, entry, deployment, verifier, store);
    Ok(EndpointState {
        inner: Arc::new(Inner {
            name,
            policy: entry.clone(),
            verifier: verifier.clone(),
            guards,
            secrets,
            config,
        }),
    })
}

/// The posture a destructive endpoint's entry must have ([`Endpoint::destructive`]).
fn check_destructive_posture(
    name: &'static str,
    entry: &EndpointPolicy,
) -> Result<(), StartupError> {
    let mut missing = Vec::new();
    if !entry.single_use {
        missing.push("single_use = true".to_owned());
    }
    if !entry.bind_deployment {
        missing.push("bind_deployment = true".to_owned());
    }
    if entry.repository_ids.is_empty() {
        missing.push("repository_ids (the repository pinned by id)".to_owned());
    }
    for workflow in &entry.workflows {
        let repository = workflow
            .split_once("/.github/workflows/")
            .map_or("", |(repository, _)| repository);
        if !entry
            .repositories
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(repository))
        {
            missing.push(format!(
                "workflows entry {workflow:?} naming a workflow file of a repository in `repositories`"
            ));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StartupError::DestructiveNotStrict {
            name,
            missing: missing.join(", "),
        })
    }
}
