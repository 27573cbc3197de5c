//! `ci-preview-server`: serves the endpoints (`CONTRACT.md` §6) on a socket of its own (a container, a VM, a
//! platform that runs a binary on `$PORT`).
//!
//! Start-up lives in the library (`src/startup.rs`), shared with the Vercel function; what is
//! left here is what only a standalone server does: bind, announce, serve, stop on a signal.
//! Exit codes: 0 clean shutdown, 2 configuration error, 1 runtime failure.

use std::{io::Write, process::ExitCode, time::Duration};

use ci_preview_server::{Args, Failure};
use clap::Parser;

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args = Args::parse();
    ci_preview_server::init_logging(args.startup.log_format);
    let outcome = ci_preview_server::runtime().and_then(|runtime| runtime.block_on(run(args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let port = std::env::var("PORT").ok();
    let listen =
        ci_preview_server::listen_addr(args.listen, port.as_deref()).map_err(Failure::Config)?;
    let app = ci_preview_server::prepare(&args.startup, ci_preview_server::BUILTIN_POLICY).await?;

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
    let server = ci_preview_server::serve(listener, app, args.serve, async move {
        signals.recv().await;
        let _ = stop_tx.send(true);
    });
    let grace = async move {
        let _ = stop_rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = server => {}
        () = grace => tracing::warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "connections still open after the grace period; exiting anyway"
        ),
    }
    tracing::info!("stopped");
    Ok(())
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
