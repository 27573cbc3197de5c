//! The function's `main`: the server's start-up, then `vercel_runtime::run`.
//!
//! Everything that can fail (policy, secrets, the issuer's keys, the replay store) is done
//! before `run` is called, and `run` is what tells the Vercel host the function has started
//! (`server-started`). So a function whose keys cannot be fetched exits non-zero without ever
//! announcing itself: fail closed, and visible as a failed start, not as 401s.

use std::process::ExitCode;

use ci_preview_server::{Failure, StartupArgs};
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
    tracing::info!(
        host_socket = std::env::var_os("VERCEL_IPC_PATH").is_some(),
        "start-up complete: serving through the Vercel runtime"
    );
    vercel_runtime::run(RouterService::new(app))
        .await
        .map_err(|e| Failure::Runtime(format!("the Vercel runtime stopped: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
