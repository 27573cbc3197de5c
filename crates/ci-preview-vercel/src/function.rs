//! The function's `main`: the server's start-up, then `vercel_runtime::run`.
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

use ci_preview_server::{Failure, ServeArgs, StartupArgs};
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

/// Runs the function with `policy`, the project's `ci-policy.toml` compiled into the function
/// (`CI_PREVIEW_POLICY=FILE` replaces it). Exit codes as the server's: 0 stopped by SIGTERM,
/// 2 configuration error, 1 runtime failure (issuer keys unreachable, port in use).
pub fn main(policy: &'static str) -> ExitCode {
    let args = FunctionArgs::parse();
    ci_preview_server::init_logging(args.startup.log_format);
    let serving = |runtime: tokio::runtime::Runtime| runtime.block_on(serve(args, policy));
    match ci_preview_server::runtime().and_then(serving) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn serve(args: FunctionArgs, policy: &str) -> Result<(), Failure> {
    let app = ci_preview_server::prepare(&args.startup, policy).await?;
    let host_socket = std::env::var_os("VERCEL_IPC_PATH").is_some_and(|p| !p.is_empty());
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
