//! `ci-preview-server` as a library: the start-up both binaries share.
//!
//! The standalone server (`src/main.rs`) and the Vercel function (`crates/ci-preview-vercel`)
//! differ only in how they accept connections. Everything before that (flags, logging, policy,
//! deployment, the endpoint list, the app, the issuer's keys, the replay store) lives here once,
//! so adding an endpoint is one line in `src/endpoints.rs` and the two binaries cannot drift.

mod cli;
mod endpoints;
mod logging;
mod replay;
mod serve;
mod startup;
mod tls;

pub use cli::{Args, LogFormat, StartupArgs, listen_addr};
pub use endpoints::endpoints;
pub use logging::init as init_logging;
pub use serve::{ServeArgs, serve};
pub use startup::{BUILTIN_POLICY, Failure, prepare, runtime};
