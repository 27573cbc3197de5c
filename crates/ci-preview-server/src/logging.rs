//! Log set-up: `tracing` to stderr, text or JSON lines, filtered by `RUST_LOG`. Stdout is kept
//! for the single ready line that scripts and container tests wait for.

use tracing_subscriber::{EnvFilter, filter::LevelFilter};

use crate::cli::LogFormat;

/// Installs the global subscriber; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}
