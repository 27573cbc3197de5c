//! Start-up, in the order that reports every configuration mistake before anything is fetched
//! or bound, and lets the first request pay nothing: policy, deployment, endpoints, the app
//! (which checks policy and endpoints agree), then the issuer's keys and the replay store,
//! checked before the caller accepts a single connection.
//!
//! Exit codes, the same for every binary: 0 clean shutdown, 2 configuration error, 1 runtime
//! failure (see [`Failure`]).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use ci_endpoint::{
    Endpoint,
    server::{Deployment, Policy},
};
use ci_oidc::{KeyStore, KeyStoreOptions, Verifier};

use crate::{cli::StartupArgs, replay, tls};

/// The checked-in policy, compiled in (`--policy FILE` replaces it).
pub const BUILTIN_POLICY: &str = include_str!("../../../ci-policy.toml");

/// Why start-up or serving stopped abnormally; decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags, policy, secret or setting, a destructive endpoint without the strict posture,
    /// a single-use endpoint on Vercel without a shared store: exit 2.
    Config(String),
    /// Keys unreachable at start-up, address in use, I/O: exit 1.
    Runtime(String),
}

impl Failure {
    /// Logs the failure and gives the process's exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Config(message) => {
                tracing::error!("configuration error: {message}");
                ExitCode::from(2)
            }
            Failure::Runtime(message) => {
                tracing::error!("{message}");
                ExitCode::from(1)
            }
        }
    }
}

/// The multi-threaded async runtime both binaries run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))
}

/// What runs the app: decides whether single-use tokens may be recorded in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// One process serves the deployment (the standalone server; a function run locally): an
    /// in-memory replay store is a real single-use guarantee, and Redis is optional.
    Standalone,
    /// Vercel runs the function: many instances serve one deployment, so an in-memory record
    /// would accept a token once per instance. A `single_use` endpoint needs
    /// `CI_PREVIEW_REDIS_URL` wherever CI routes are served; without it start-up stops (exit 2).
    Vercel,
}

/// Everything up to serving: the app to serve `endpoints`, with the issuer's keys loaded and the
/// replay store answering wherever CI routes are served (fail closed: no keys, no app).
/// `builtin_policy` is the compiled-in policy text that `--policy FILE` replaces
/// ([`BUILTIN_POLICY`] for the server; a Vercel function compiles in its project's own).
pub async fn prepare(
    args: &StartupArgs,
    builtin_policy: &str,
    endpoints: Vec<Endpoint>,
    host: Host,
) -> Result<axum::Router, Failure> {
    let (policy, policy_dir) = load_policy(args.policy.as_deref(), builtin_policy)?;
    let deployment = Deployment::from_env();
    let served = deployment.is_served(policy.serve_in());
    tracing::info!(
        environment = deployment.environment.as_deref().unwrap_or("(unset)"),
        commit = deployment.commit.as_deref(),
        git_ref = deployment.git_ref.as_deref(),
        pull_request = deployment.pull_request.as_deref(),
        ci_routes = served,
        "deployment"
    );

    let mut issuer = policy.issuer().clone();
    if let (Some(file), Some(dir)) = (&issuer.jwks_file, &policy_dir) {
        // A relative jwks_file is next to the policy file that names it, not wherever we run.
        issuer.jwks_file = Some(dir.join(file));
    }
    // Static keys need no client; building one parses ~150 root certificates, which is most of
    // the start-up time of a `jwks_file` server.
    let mut options = if issuer.jwks_file.is_some() {
        KeyStoreOptions::default()
    } else {
        KeyStoreOptions::with_client(tls::jwks_client().map_err(Failure::Runtime)?)
    };
    options.unknown_kid_cooldown = Duration::from_secs(args.jwks_refetch_cooldown);
    let keys = KeyStore::from_issuer_config(&issuer, options)
        .map_err(|e| Failure::Config(format!("issuer keys: {e}")))?;
    let verifier = Verifier::new(issuer.url.clone(), keys.clone());
    let replay_store = replay::open(args.redis_url.as_ref(), args.redis_ca_file.as_deref())
        .map_err(Failure::Config)?;
    let single_use = replay::single_use_endpoints(&policy, &endpoints);
    if served && host == Host::Vercel && replay_store.is_none() && !single_use.is_empty() {
        return Err(Failure::Config(replay::shared_store_required(&single_use)));
    }
    let app = ci_endpoint::server::app_with(
        policy,
        deployment,
        verifier,
        endpoints,
        replay::app_options(replay_store.as_ref()),
    )
    .map_err(|e| Failure::Config(e.to_string()))?;

    if served {
        let started = std::time::Instant::now();
        keys.prefetch().await.map_err(|e| {
            Failure::Runtime(format!(
                "cannot load the issuer's keys for {}: {e}; refusing to serve without them (fail closed)",
                issuer.url
            ))
        })?;
        tracing::info!(
            kids = ?keys.kids(),
            remote = keys.is_remote(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "issuer keys loaded"
        );
        // The handle is dropped on purpose: the refresh ends with the store.
        drop(keys.spawn_refresh());
        replay::check_at_start(replay_store.as_ref(), &single_use)
            .await
            .map_err(Failure::Runtime)?;
    } else {
        tracing::info!("CI routes not served here: issuer keys not fetched");
    }
    Ok(app)
}

/// The policy (file or built-in), logged with its digest; and the file's folder, if any.
fn load_policy(path: Option<&Path>, builtin: &str) -> Result<(Policy, Option<PathBuf>), Failure> {
    let (text, source, dir) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Config(format!("--policy {}: {e}", path.display())))?;
            let dir = path.parent().map(Path::to_path_buf);
            (text, path.display().to_string(), dir)
        }
        None => (
            builtin.to_owned(),
            "built-in ci-policy.toml".to_owned(),
            None,
        ),
    };
    let policy =
        Policy::from_toml_str(&text).map_err(|e| Failure::Config(format!("{source}: {e}")))?;
    tracing::info!(
        source,
        sha256 = policy.sha256_hex(),
        serve_in = ?policy.serve_in(),
        issuer = policy.issuer().url,
        "policy loaded"
    );
    Ok((policy, dir))
}
