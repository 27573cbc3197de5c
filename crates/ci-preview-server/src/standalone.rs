//! The standalone server: a policy and an endpoint list ([`Server`]), served on a socket of its
//! own (a container, a VM, a platform that runs a binary on `$PORT`; `CONTRACT.md` §6).
//!
//! Start-up is shared with the Vercel function (`startup.rs`); what is here is what only a
//! standalone server does: bind, announce, serve, stop on a signal. Exit codes: 0 clean shutdown,
//! 2 configuration error, 1 runtime failure.

use std::{io::Write, process::ExitCode, time::Duration};

use ci_endpoint::Endpoint;
use clap::Parser;

use crate::{Args, Failure, Host};

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A standalone server composed from a policy and the endpoints it serves: the built-in ones a
/// deployment opts into and the team's own, each an [`Endpoint`].
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     ci_preview_server::Server::new(ci_preview_server::BUILTIN_POLICY)
///         .endpoint(encrypt_override::endpoint())
///         // .endpoint(my_endpoints::cleanup_kv())
///         .run()
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    policy: &'static str,
    endpoints: Vec<Endpoint>,
}

impl Server {
    /// A server for `policy` (the `ci-policy.toml` text compiled in; `--policy FILE` replaces
    /// it), serving no endpoint yet.
    pub fn new(policy: &'static str) -> Server {
        Server {
            policy,
            endpoints: Vec::new(),
        }
    }

    /// Adds an endpoint. Only those with a policy entry are mounted (the policy opts in).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Server {
        self.endpoints.push(endpoint);
        self
    }

    /// Adds several endpoints (e.g. `ci_preview_server::builtin_endpoints()`).
    pub fn endpoints(mut self, endpoints: impl IntoIterator<Item = Endpoint>) -> Server {
        self.endpoints.extend(endpoints);
        self
    }

    /// Parses the flags (`--help`), starts up and serves until SIGTERM or SIGINT. Exit codes: 0
    /// clean shutdown, 2 configuration error, 1 runtime failure.
    pub fn run(self) -> ExitCode {
        let args = Args::parse();
        crate::init_logging(args.startup.log_format);
        let serving = |runtime: tokio::runtime::Runtime| {
            runtime.block_on(run(args, self.policy, self.endpoints))
        };
        match crate::runtime().and_then(serving) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(),
        }
    }
}

async fn run(args: Args, policy: &str, endpoints: Vec<Endpoint>) -> Result<(), Failure> {
    let port = std::env::var("PORT").ok();
    let listen = crate::listen_addr(args.listen, port.as_deref()).map_err(Failure::Config)?;
    let app = crate::prepare(&args.startup, policy, endpoints, Host::Standalone).await?;

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
    let server = crate::serve(listener, app, args.serve, async move {
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
