//! `ci-preview-server` as a library: a server composed from the endpoints its builder is given
//! ([`Server`]), and the start-up it shares with the Vercel function ([`prepare`]).
//!
//! The standalone server and the Vercel function (`crates/ci-preview-vercel`) differ only in how
//! they accept connections. Everything before that (flags, logging, policy, deployment, the app,
//! the issuer's keys, the replay store) lives here once, and both take their endpoint list from
//! whoever composes them: this repository's binaries serve the built-in endpoints
//! ([`builtin_endpoints`], feature `builtin-endpoints`), a team's binary or function names its own next to the built-ins it opts into.

#[cfg(feature = "builtin-endpoints")]
mod builtin;
mod cli;
mod logging;
mod replay;
mod serve;
mod standalone;
mod startup;
mod tls;

#[cfg(feature = "builtin-endpoints")]
pub use builtin::{CLERK_TESTING_TOKEN, builtin_endpoints};
pub use cli::{Args, LogFormat, StartupArgs, listen_addr};
pub use logging::init as init_logging;
pub use serve::{ServeArgs, serve};
pub use standalone::Server;
pub use startup::{BUILTIN_POLICY, Failure, Host, prepare, runtime};
