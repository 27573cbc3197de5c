//! The function: a policy and an endpoint list ([`Function`]), the server's start-up, then
//! `vercel_runtime::run`.
//!
//! Everything that can fail (policy, secrets, the issuer's keys, the replay store) is done
//! before `run` is called, and `run` is what tells the Vercel host the function has started
//! (`server-started`). So a function whose keys cannot be fetched exits non-zero without ever
//! announcing itself: fail closed, and visible as a failed start, not as 401s.
//!
//! Local mode (no `VERCEL_IPC_PATH`: `vercel dev`, a developer's run) is served by the server's
//! own loop (`ci_preview_server::serve`) on the same `127.0.0.1:$VERCEL_DEV_PORT` with the same
//! ready line, not by `vercel_runtime::run`: the runtime's hyper connections have no timer, so a
//! client sending half a request head held a socket for ever. On Vercel the host sits in front
//! of the function and owns the client's connection, so the runtime serves there.

use std::process::ExitCode;

use ci_endpoint::Endpoint;
use ci_preview_server::{Failure, Host, ServeArgs, StartupArgs};
use clap::Parser;

use crate::RouterService;

/// The CI-in-preview endpoints as a Vercel Rust function. Configured by environment only (a
/// function gets no command line); the flags exist for local runs.
///
/// Vercel host: VERCEL_IPC_PATH (the host's socket; unset: local mode, prints
/// `Dev server listening: PORT`), VERCEL_DEV_PORT (the port on 127.0.0.1, default 3000).
/// Deployment: VERCEL_ENV, VERCEL_TARGET_ENV, VERCEL_GIT_*, CI_PREVIEW_ENV. Endpoint secrets:
/// FLAGS_SECRET. Log filter: RUST_LOG (default info).
#[derive(Debug, Parser)]
#[command(name = "ci-preview-vercel", version)]
struct FunctionArgs {
    #[command(flatten)]
    startup: StartupArgs,

    /// Limits against slow and idle clients in local mode (the server's; on Vercel the host
    /// fronts the function).
    #[command(flatten)]
    serve: ServeArgs,
}

/// A Vercel function composed from the project's policy and the endpoints it serves: the
/// built-in ones it opts into (each its own crate) and the team's own.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     ci_preview_vercel::Function::new(ci_preview_server::BUILTIN_POLICY) // your include_str!("../ci-policy.toml")
///         .endpoint(encrypt_override::endpoint())
///         // .endpoint(team_endpoints::cleanup_kv::endpoint())
///         .run()
/// }
/// ```
#[derive(Debug)]
pub struct Function {
    policy: &'static str,
    endpoints: Vec<Endpoint>,
}

impl Function {
    /// A function for `policy`, the project's `ci-policy.toml` compiled in
    /// (`CI_PREVIEW_POLICY=FILE` replaces it), serving no endpoint yet.
    pub fn new(policy: &'static str) -> Function {
        Function {
            policy,
            endpoints: Vec::new(),
        }
    }

    /// Adds an endpoint. Only those with a policy entry are mounted (the policy opts in).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Function {
        self.endpoints.push(endpoint);
        self
    }

    /// Adds several endpoints (e.g. `ci_preview_server::builtin_endpoints()`).
    pub fn endpoints(mut self, endpoints: impl IntoIterator<Item = Endpoint>) -> Function {
        self.endpoints.extend(endpoints);
        self
    }

    /// Starts up and serves through the Vercel runtime. Exit codes as the server's: 0 stopped by
    /// SIGTERM, 2 configuration error, 1 runtime failure (issuer keys unreachable, port in use).
    ///
    /// Under Vercel's host (`VERCEL_IPC_PATH` set) many instances serve one deployment, so a
    /// `single_use` endpoint without `CI_PREVIEW_REDIS_URL` stops start-up (exit 2) wherever CI
    /// routes are served; run locally (no host socket) it is one process and memory suffices.
    pub fn run(self) -> ExitCode {
        let args = FunctionArgs::parse();
        ci_preview_server::init_logging(args.startup.log_format);
        let serving = |runtime: tokio::runtime::Runtime| {
            runtime.block_on(serve(args, self.policy, self.endpoints))
        };
        match ci_preview_server::runtime().and_then(serving) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(),
        }
    }
}

async fn serve(args: FunctionArgs, policy: &str, endpoints: Vec<Endpoint>) -> Result<(), Failure> {
    let host_socket = std::env::var_os("VERCEL_IPC_PATH").is_some_and(|p| !p.is_empty());
    let host = if host_socket {
        Host::Vercel
    } else {
        Host::Standalone
    };
    let app = ci_preview_server::prepare(&args.startup, policy, endpoints, host).await?;
    tracing::info!(host_socket, "start-up complete");
    if !host_socket {
        return serve_locally(app, args.serve).await;
    }
    vercel_runtime::run(RouterService::new(app))
        .await
        .map_err(|e| Failure::Runtime(format!("the Vercel runtime stopped: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// Local mode: what `vercel_runtime::run` does without a host socket (bind
/// `127.0.0.1:$VERCEL_DEV_PORT`, default 3000; print `Dev server listening: PORT`; stop on
/// SIGTERM or Ctrl-C), with the server's connection limits.
async fn serve_locally(app: axum::Router, limits: ServeArgs) -> Result<(), Failure> {
    let port = match std::env::var("VERCEL_DEV_PORT") {
        Ok(port) if !port.trim().is_empty() => port.trim().parse::<u16>().map_err(|_| {
            Failure::Config(format!("VERCEL_DEV_PORT={port:?} is not a port number"))
        })?,
        _ => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("cannot read the listening address: {e}")))?
        .port();
    let stop = shutdown_signal()
        .map_err(|e| Failure::Runtime(format!("cannot install signal handlers: {e}")))?;
    println!("Dev server listening: {port}");
    tracing::info!(
        port,
        "local mode: serving on 127.0.0.1 with the server's limits"
    );
    ci_preview_server::serve(listener, app, limits, stop).await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (what `vercel dev` sends) or Ctrl-C, registered before the ready line.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
