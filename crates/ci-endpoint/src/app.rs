//! The app factory: checks that the registered endpoints and the policy agree, then builds the
//! router. Where the deployment's environment is not served, it builds no endpoint router at all:
//! every request meets one fallback answering 404 `Not Found`, with nothing read first.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    sync::Arc,
};

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use ci_oidc::Verifier;

use crate::{
    CI_PREFIX, CiError, Endpoint,
    deployment::Deployment,
    endpoint::{EndpointState, load_state},
    endpoint_path, health,
    policy::{Policy, PolicyError, is_valid_endpoint_name},
    secret::Env,
    server::replay::ReplayStore,
    span, stealth, tilde,
};

/// Why the app could not be built. The server exits with status 2 (configuration error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The policy is not valid (or an endpoint's settings are not): the key is named.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The policy names none of the endpoints given, so nothing would be served.
    #[error(
        "the policy names none of this server's endpoints ({available}): add an [endpoints.\"NAME\"] entry for each one to serve"
    )]
    NoEndpointServed {
        /// The endpoints given, comma-separated.
        available: String,
    },
    /// Two endpoints share a name.
    #[error("endpoint {name:?} is registered twice")]
    DuplicateEndpoint {
        /// The name.
        name: &'static str,
    },
    /// An endpoint name that cannot be a path segment or a policy key.
    #[error(
        "endpoint name {name:?} is invalid: lower-case segments of a-z, 0-9, '-' or '_' joined by '/', not \"health\""
    )]
    InvalidEndpointName {
        /// The name.
        name: &'static str,
    },
    /// A destructive endpoint whose policy entry lacks the strict posture.
    #[error(
        "endpoint {name:?} is destructive, so its policy entry must have the strict posture: {missing} (see Endpoint::destructive)"
    )]
    DestructiveNotStrict {
        /// The endpoint.
        name: &'static str,
        /// What the entry lacks.
        missing: String,
    },
    /// Two secrets of one type: the handler could not tell them apart.
    #[error(
        "endpoint {name:?} declares two secrets of type {type_name}: give each its own type (a newtype)"
    )]
    DuplicateSecretType {
        /// The endpoint.
        name: &'static str,
        /// The shared type.
        type_name: &'static str,
    },
    /// An endpoint's own configuration, e.g. a malformed secret: `name` is the variable or key.
    #[error("{name}: {message}")]
    Config {
        /// The variable or key.
        name: String,
        /// What is wrong with it (never its value).
        message: String,
    },
}

impl StartupError {
    /// An endpoint's configuration error: `StartupError::config("FLAGS_SECRET", "must decode to 32 bytes")`.
    pub fn config(name: impl Into<String>, message: impl Into<String>) -> StartupError {
        StartupError::Config {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// Options of [`app_with`] beyond the policy, the deployment and the verifier.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AppOptions {
    /// Where `single_use` endpoints record tokens; `None`: one in-memory store for the app.
    replay_store: Option<ReplayStore>,
    pub(crate) env: Option<Env>,
}

impl AppOptions {
    /// Records `single_use` tokens in `store` (e.g. [`ReplayStore::redis`] shared by replicas).
    pub fn with_replay_store(mut self, store: ReplayStore) -> AppOptions {
        self.replay_store = Some(store);
        self
    }

    /// Reads endpoint secrets from `vars` only, instead of the process environment (tests, and
    /// hosts that hand configuration over some other way).
    pub fn with_env<K: Into<String>, V: Into<OsString>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> AppOptions {
        let vars: BTreeMap<String, OsString> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.env = Some(Env(Arc::new(vars)));
        self
    }
}

/// Builds the server's router: `GET /api/~/ci/health` and each endpoint at `/api/~/ci/{name}`,
/// or, where the deployment's environment is not served, a router answering only 404.
///
/// The policy opts endpoints in: a registered endpoint without a policy entry is not mounted
/// (404, absent from health; logged as a warning), so a deployment serves only what its policy
/// names although the server carries every endpoint crate; a policy naming none of them is an
/// error. A policy entry with no registered
/// endpoint grants nothing, so it is logged as a warning and otherwise ignored (a policy may be
/// shared by builds with fewer endpoints). The checks run in every environment, so
/// a broken configuration fails in preview before it ships anywhere.
pub fn app(
    policy: Policy,
    deployment: Deployment,
    verifier: Verifier,
    endpoints: Vec<Endpoint>,
) -> Result<Router, StartupError> {
    app_with(
        policy,
        deployment,
        verifier,
        endpoints,
        AppOptions::default(),
    )
}

/// [`app`] with [`AppOptions`]: where `single_use` endpoints record tokens, and where endpoint
/// secrets and settings are read from (the process environment unless `with_env` names the
/// variables).
pub fn app_with(
    policy: Policy,
    deployment: Deployment,
    verifier: Verifier,
    endpoints: Vec<Endpoint>,
    options: AppOptions,
) -> Result<Router, StartupError> {
    let store = options
        .replay_store
        .clone()
        .unwrap_or_else(ReplayStore::in_memory);
    // Loud on purpose: a variable the platform overrules is a misconfiguration someone believes
    // in (e.g. CI_PREVIEW_ENV=preview set for every environment, production included).
    for warning in &deployment.warnings {
        tracing::error!(
            environment = deployment.environment.as_deref().unwrap_or("(unset)"),
            "deployment variables disagree: {warning}"
        );
    }
    let mut states: Vec<EndpointState> = Vec::with_capacity(endpoints.len());
    let mut served: Vec<Endpoint> = Vec::with_capacity(endpoints.len());
    let mut seen = BTreeSet::new();
    for endpoint in endpoints {
        let name = endpoint.name;
        if !is_valid_endpoint_name(name) {
            return Err(StartupError::InvalidEndpointName { name });
        }
        if !seen.insert(name) {
            return Err(StartupError::DuplicateEndpoint { name });
        }
        // The policy opts endpoints in: a server carries every endpoint crate, a deployment serves
        // the ones its policy names. Without an entry there is nothing to verify callers against,
        // so the endpoint is not mounted at all (404, absent from health).
        let Some(entry) = policy.endpoint(name) else {
            tracing::warn!(
                endpoint = name,
                "the policy has no [endpoints.{name:?}] entry: not served (404)"
            );
            continue;
        };
        // Read in every environment, so a malformed secret or setting stops start-up before it
        // ships.
        let state = load_state(
            &endpoint,
            entry,
            &policy,
            &verifier,
            &deployment,
            &store,
            &options,
        )?;
        tracing::info!(
            endpoint = name,
            ready = state.ready(),
            "endpoint registered"
        );
        states.push(state);
        served.push(endpoint);
    }
    if served.is_empty() && !seen.is_empty() {
        // A policy that names none of the server's endpoints is a mistake (a typo, another
        // deployment's file), not a choice: stop rather than start a server that serves nothing.
        let available = seen.iter().copied().collect::<Vec<_>>().join(", ");
        return Err(StartupError::NoEndpointServed { available });
    }
    for orphan in policy
        .endpoints()
        .keys()
        .filter(|k| !seen.contains(k.as_str()))
    {
        tracing::warn!(endpoint = %orphan, "policy entry has no endpoint in this server; ignored");
    }

    if !deployment.is_served(policy.serve_in()) {
        tracing::info!(
            environment = deployment.environment.as_deref().unwrap_or("(unset)"),
            serve_in = ?policy.serve_in(),
            "CI routes are not served in this environment: every request answers 404"
        );
        return Ok(Router::new().fallback(not_found));
    }

    let listed: Vec<health::Listed<'_>> = served
        .iter()
        .zip(&states)
        .map(|(endpoint, state)| health::Listed {
            name: endpoint.name,
            audience: &state.policy().audience,
            ready: state.ready(),
        })
        .collect();
    let health_body = health::render(&deployment, policy.sha256_hex(), &listed);
    // Under stealth, health answers only a caller whose token one of the endpoints accepts.
    let stealth = policy.stealth();
    let health_verifies = stealth.then(|| Arc::new(states.clone()));
    if stealth {
        tracing::info!(
            floor_ms = stealth::STEALTH_FLOOR.as_millis() as u64,
            "stealth mode: every unverified request answers 404 Not Found"
        );
    }

    let mut router = Router::new().route(
        &format!("{CI_PREFIX}/health"),
        get(move |request: Request| {
            let body = health_body.clone();
            let verifies = health_verifies.clone();
            async move {
                if let Some(states) = verifies {
                    let (parts, _) = request.into_parts();
                    stealth::verify_for_health(&states, &parts).await;
                }
                health::respond(body)
            }
        }),
    );
    for (endpoint, state) in served.into_iter().zip(states) {
        let name = endpoint.name;
        let routes = Router::new()
            .route("/", endpoint.route)
            .with_state(state)
            .layer(middleware::from_fn(move |request, next| {
                span::in_request_span(name, request, next)
            }));
        router = router.nest(&endpoint_path(name), routes);
    }
    let router = router
        .fallback(not_found)
        .layer(middleware::from_fn(no_store));
    // Routing matches raw paths: decode an encoded `~` in the prefix before it (see `tilde.rs`).
    let router = Router::new().fallback_service(tower::util::MapRequest::new(
        router,
        tilde::decode_prefix as fn(Request) -> Request,
    ));
    if !stealth {
        return Ok(router);
    }
    // Around everything, so that no answer (axum's own 405 with its `Allow` included) escapes it.
    Ok(router
        .layer(middleware::from_fn(stealth::hide_unverified))
        .layer(middleware::from_fn(no_store)))
}

async fn not_found() -> CiError {
    CiError::NotFound
}

/// CI answers (cookies, health) are per-request facts: no shared cache may keep them.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
