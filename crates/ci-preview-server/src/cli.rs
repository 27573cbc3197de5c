//! The server's flags and environment (`CONTRACT.md` §6), each flag with its variable, so a platform can
//! configure it without a command line and a developer can override on one. [`StartupArgs`]
//! are the ones every binary shares (the Vercel function reads them from its environment);
//! [`Args`] adds what only a server that binds its own socket needs.

use std::{net::SocketAddr, path::PathBuf};

use ci_oidc::SecretString;
use clap::{Parser, ValueEnum};

/// Serves the CI-in-preview endpoints: GitHub Actions OIDC in, secrets-derived answers out.
///
/// Deployment environment: a platform's production signal always wins (VERCEL_ENV or
/// VERCEL_TARGET_ENV = production, RAILWAY_ENVIRONMENT_NAME = production, Render without
/// IS_PULL_REQUEST=true); else VERCEL_TARGET_ENV, else VERCEL_ENV, and CI_PREVIEW_ENV (CI routes
/// exist only where the policy's serve_in lists them). Identity (health, bind_deployment):
/// CI_PREVIEW_COMMIT_SHA, CI_PREVIEW_COMMIT_REF, CI_PREVIEW_PULL_REQUEST, CI_PREVIEW_REPOSITORY,
/// CI_PREVIEW_REPOSITORY_ID where the platform gives none (VERCEL_GIT_*, RENDER_GIT_*,
/// RAILWAY_GIT_*); see system-docs/PLATFORMS.md. Endpoint secrets: FLAGS_SECRET, AUTH_SECRET,
/// TOKENS_MINT_KEY (with TOKENS_MINT_ALGORITHM), CLERK_SECRET_KEY; CI_PREVIEW_UPSTREAM_CA_FILE adds
/// roots for proxy upstreams.
/// Log filter: RUST_LOG (default info).
#[derive(Debug, Parser)]
#[command(name = "ci-preview-server", version)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:3000, or 0.0.0.0:$PORT when PORT is set].
    #[arg(long, env = "CI_PREVIEW_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    #[command(flatten)]
    /// Where the policy, keys and environment come from (shared with the Vercel function).
    pub startup: StartupArgs,

    /// Limits against slow and idle clients (see `serve.rs`).
    #[command(flatten)]
    pub serve: crate::serve::ServeArgs,
}

/// The settings of start-up (policy, keys, replay store, logs), shared by every binary.
#[derive(Debug, clap::Args)]
pub struct StartupArgs {
    /// Policy file replacing the compiled-in ci-policy.toml.
    #[arg(long, env = "CI_PREVIEW_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Redis recording the tokens of single_use endpoints, shared by all instances:
    /// redis://[user:password@]host[:port][/db], rediss:// for TLS. Unset: in memory, valid for
    /// one instance only. Never logged or shown with its password.
    #[arg(long, env = "CI_PREVIEW_REDIS_URL", value_name = "URL", hide_env_values = true,
          value_parser = secret)]
    pub redis_url: Option<SecretString>,

    /// PEM CA certificate(s) trusted for a rediss:// Redis besides the built-in Mozilla roots
    /// (a private CA).
    #[arg(long, env = "CI_PREVIEW_REDIS_CA_FILE", value_name = "FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// Least time between two JWKS fetches caused by tokens naming an unknown key id: a flood of
    /// invented kids costs the issuer one request per this many seconds, and a rotated key is
    /// picked up at most this long after the last fetch.
    #[arg(long, env = "CI_PREVIEW_JWKS_REFETCH_COOLDOWN", value_name = "SECONDS",
          default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_refetch_cooldown: u64,

    /// Log line format (logs go to stderr; stdout carries only the ready line).
    #[arg(long, env = "CI_PREVIEW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Wraps a flag value that may hold a password, so `Debug` of the arguments cannot show it.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::new(value))
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The listen address: the flag, else `0.0.0.0:$PORT` (platforms that assign a port expect the
/// server to be reachable from outside its container), else loopback 3000.
pub fn listen_addr(flag: Option<SocketAddr>, port: Option<&str>) -> Result<SocketAddr, String> {
    if let Some(addr) = flag {
        return Ok(addr);
    }
    match port.map(str::trim).filter(|p| !p.is_empty()) {
        Some(port) => port
            .parse::<u16>()
            .map(|port| SocketAddr::from(([0, 0, 0, 0], port)))
            .map_err(|_| format!("PORT={port:?} is not a port number (0-65535)")),
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 3000))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_defaults() {
        assert_eq!(
            listen_addr(None, None).unwrap().to_string(),
            "127.0.0.1:3000"
        );
        assert_eq!(
            listen_addr(None, Some("8080")).unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(
            listen_addr(None, Some("")).unwrap().to_string(),
            "127.0.0.1:3000"
        );
        let flag = "127.0.0.1:9".parse().ok();
        assert_eq!(
            listen_addr(flag, Some("8080")).unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert!(
            listen_addr(None, Some("http"))
                .unwrap_err()
                .contains("PORT")
        );
    }

    #[test]
    fn flags_parse() {
        let args = Args::try_parse_from([
            "ci-preview-server",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "p.toml",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(args.startup.log_format, LogFormat::Json);
        assert_eq!(args.startup.policy.unwrap(), PathBuf::from("p.toml"));
        assert!(Args::try_parse_from(["ci-preview-server", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn redis_url_is_kept_secret() {
        let args = Args::try_parse_from([
            "ci-preview-server",
            "--redis-url",
            "redis://:hunter2@cache:6379/0",
        ])
        .unwrap();
        let url = args.startup.redis_url.as_ref().unwrap();
        assert_eq!(url.expose_secret(), "redis://:hunter2@cache:6379/0");
        assert!(!format!("{args:?}").contains("hunter2"));
    }
}
