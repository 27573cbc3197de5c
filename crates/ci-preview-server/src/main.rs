//! `ci-preview-server`: composes the endpoint crates into one axum server (`DESIGN.md` §4).
//!
//! Start-up is ordered so that every configuration mistake is reported before anything is
//! fetched or bound, and so that the first request pays nothing: policy, deployment, endpoints,
//! the app (which checks policy and endpoints agree), then the issuer's keys, fetched before the
//! listener exists. Exit codes: 0 clean shutdown, 2 configuration error, 1 runtime failure.

mod cli;
mod logging;
mod replay;
mod tls;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use axum::serve::ListenerExt;
use ci_endpoint::{Deployment, Endpoint, Policy};
use ci_oidc::{KeyStore, KeyStoreOptions, Verifier};
use clap::Parser;

/// The checked-in policy, compiled in (`--policy FILE` replaces it).
const BUILTIN_POLICY: &str = include_str!("../../../ci-policy.toml");

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The endpoints this server serves. Adding one: a crate exporting an `Endpoint`, one line
/// here, one `[endpoints."NAME"]` entry in `ci-policy.toml`. The app reads their secrets.
fn endpoints() -> Vec<Endpoint> {
    vec![encrypt_override::endpoint(), encrypt_session::endpoint()]
}

/// Why the server stopped abnormally; decides the exit code.
enum Failure {
    /// Bad flags, policy or secret: exit 2.
    Config(String),
    /// Keys unreachable at start-up, address in use, I/O: exit 1.
    Runtime(String),
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    logging::init(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(message)) => {
            tracing::error!("configuration error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            tracing::error!("{message}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: cli::Args) -> Result<(), Failure> {
    let port = std::env::var("PORT").ok();
    let listen = cli::listen_addr(args.listen, port.as_deref()).map_err(Failure::Config)?;

    let (policy, policy_dir) = load_policy(args.policy.as_deref())?;
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

    let endpoints = endpoints();

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
    let app = ci_endpoint::app_with(
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

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("cannot read the listening address: {e}")))?;
    let signals = Signals::install()
        .map_err(|e| Failure::Runtime(format!("cannot install signal handlers: {e}")))?;
    announce(local);

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener.tap_io(|tcp| {
            // Small JSON answers: do not let Nagle hold them back.
            let _ = tcp.set_nodelay(true);
        }),
        app,
    )
    .with_graceful_shutdown(async move {
        signals.recv().await;
        let _ = stop_tx.send(true);
    });
    let grace = async move {
        let _ = stop_rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result.map_err(|e| Failure::Runtime(format!("server error: {e}")))?,
        () = grace => tracing::warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "connections still open after the grace period; exiting anyway"
        ),
    }
    tracing::info!("stopped");
    Ok(())
}

/// The policy (file or built-in), logged with its digest; and the file's folder, if any.
fn load_policy(path: Option<&Path>) -> Result<(Policy, Option<PathBuf>), Failure> {
    let (text, source, dir) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Config(format!("--policy {}: {e}", path.display())))?;
            let dir = path.parent().map(Path::to_path_buf);
            (text, path.display().to_string(), dir)
        }
        None => (
            BUILTIN_POLICY.to_owned(),
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

/// The one line on stdout: scripts and container tests wait for it.
fn announce(addr: std::net::SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "ci-preview-server listening on http://{addr}");
    let _ = stdout.flush();
    tracing::info!(%addr, "listening");
}

/// SIGTERM (docker stop, platforms) and SIGINT (Ctrl-C), registered before the ready line so a
/// signal sent right after it is never met by the default action (instant death, exit 143).
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT received: shutting down"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM received: shutting down"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C received: shutting down");
        }
    }
}
