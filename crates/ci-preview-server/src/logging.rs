//! Log set-up: `tracing` to stderr, text or JSON lines, filtered by `RUST_LOG`. Stdout is kept
//! for the single ready line that scripts and container tests wait for.
//!
//! `RUST_LOG` takes comma-separated `LEVEL` and `target=LEVEL` directives (`info`,
//! `ci_endpoint=debug,warn`), default `info`. The filter is `tracing-subscriber`'s `Targets`, not
//! its regex-based `EnvFilter`: the span and field directives that one adds are never needed here,
//! and its regex engine was a tenth of the Vercel function's cold build.

use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    fmt,
    prelude::*,
};

use crate::cli::LogFormat;

/// Installs the global subscriber; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    // A global filter (as `EnvFilter` was), so `tracing::enabled!` answers for it.
    let registry = tracing_subscriber::registry().with(filter);
    let layer = fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => registry
            .with(layer.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .init(),
        LogFormat::Json => registry.with(layer.json().with_current_span(false)).init(),
    }
}

/// The filter `RUST_LOG` names: its valid directives (an invalid one is skipped, with a note on
/// stderr, as the logs are not up yet), or `info` when it is unset or names none.
fn filter_from(spec: Option<&str>) -> Targets {
    let mut valid = Vec::new();
    for directive in spec.unwrap_or_default().split(',').map(str::trim) {
        if directive.is_empty() {
            continue;
        }
        if directive.contains(['[', ']', '{', '}']) {
            eprintln!("RUST_LOG: ignoring `{directive}`: span and field filters are not supported");
            continue;
        }
        match directive.parse::<Targets>() {
            Ok(_) => valid.push(directive),
            Err(err) => eprintln!("RUST_LOG: ignoring `{directive}`: {err}"),
        }
    }
    if valid.is_empty() {
        return Targets::new().with_default(LevelFilter::INFO);
    }
    valid
        .join(",")
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_directives_filter_by_target_and_level() {
        let default = filter_from(None);
        assert!(default.would_enable("ci_endpoint", &Level::INFO));
        assert!(!default.would_enable("ci_endpoint", &Level::DEBUG));

        let filter = filter_from(Some("warn, ci_endpoint=debug"));
        assert!(filter.would_enable("ci_endpoint::audit", &Level::DEBUG));
        assert!(!filter.would_enable("ci_oidc", &Level::INFO));
        assert!(filter.would_enable("ci_oidc", &Level::WARN));

        // An invalid directive is skipped, the rest still applies; none valid means `info`.
        let filter = filter_from(Some("ci_oidc=loud,ci_endpoint=trace"));
        assert!(filter.would_enable("ci_endpoint", &Level::TRACE));
        assert!(!filter.would_enable("ci_oidc", &Level::ERROR));
        let filter = filter_from(Some("[span]=debug"));
        assert!(filter.would_enable("ci_oidc", &Level::INFO));
        assert!(!filter.would_enable("ci_oidc", &Level::DEBUG));
    }
}
