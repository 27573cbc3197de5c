//! The replay store of `single_use` endpoints, as the server sets it up: Redis when
//! `CI_PREVIEW_REDIS_URL` (`--redis-url`) is set (`rediss://` for TLS, with an optional private
//! CA in `CI_PREVIEW_REDIS_CA_FILE`), else the kit's in-memory default.
//!
//! Start-up choices, in the same spirit as the issuer's keys (fetched before the listener, or
//! no start): a malformed URL is a configuration error (exit 2); where CI routes are served and
//! an endpoint is `single_use`, Redis must answer a PING before the server listens (exit 1
//! otherwise), so a wrong host or password shows at deploy time, not as 503s at the first CI
//! call. Later outages are the store's business: each request fails closed with 503 and service
//! returns by itself when Redis does. The URL's password is never logged: only its redacted form.

use std::path::Path;

use ci_endpoint::{
    Endpoint,
    server::{AppOptions, Policy, replay::ReplayStore},
};
use ci_oidc::SecretString;

/// The names of the registered endpoints whose policy entry sets `single_use`.
pub(crate) fn single_use_endpoints(policy: &Policy, endpoints: &[Endpoint]) -> Vec<&'static str> {
    endpoints
        .iter()
        .filter(|e| policy.endpoint(e.name()).is_some_and(|p| p.single_use))
        .map(|e| e.name())
        .collect()
}

/// Why a `single_use` endpoint cannot be served by a host running many instances without Redis.
pub(crate) fn shared_store_required(single_use: &[&'static str]) -> String {
    format!(
        "{} set single_use = true, and on Vercel many instances serve one deployment: a token \
         recorded in one instance's memory could be used again at another. Set \
         CI_PREVIEW_REDIS_URL (rediss://… of a Redis the instances share; a Redis from the Vercel \
         Marketplace is the usual answer) for the environments that serve CI routes, or remove \
         single_use from these entries",
        single_use.join(", ")
    )
}

/// The Redis store for `url` (an empty value counts as unset), parsed but not yet connected;
/// `ca_file` adds trust anchors for `rediss://`.
pub(crate) fn open(
    url: Option<&SecretString>,
    ca_file: Option<&Path>,
) -> Result<Option<ReplayStore>, String> {
    let Some(url) = url.filter(|url| !url.expose_secret().trim().is_empty()) else {
        if let Some(file) = ca_file {
            return Err(format!(
                "CI_PREVIEW_REDIS_CA_FILE={} is set but CI_PREVIEW_REDIS_URL is not",
                file.display()
            ));
        }
        return Ok(None);
    };
    let ca = match ca_file {
        Some(file) => Some(
            std::fs::read(file)
                .map_err(|e| format!("CI_PREVIEW_REDIS_CA_FILE={}: {e}", file.display()))?,
        ),
        None => None,
    };
    let trimmed = SecretString::new(url.expose_secret().trim());
    ReplayStore::redis_with_ca(&trimmed, ca.as_deref())
        .map(Some)
        .map_err(|e| format!("CI_PREVIEW_REDIS_URL: {e}"))
}

/// The app options carrying `store`, if any.
pub(crate) fn app_options(store: Option<&ReplayStore>) -> AppOptions {
    match store {
        Some(store) => AppOptions::default().with_replay_store(store.clone()),
        None => AppOptions::default(),
    }
}

/// Logs where single-use tokens are recorded and, for Redis, checks it answers now.
pub(crate) async fn check_at_start(
    store: Option<&ReplayStore>,
    single_use: &[&'static str],
) -> Result<(), String> {
    match (store, single_use.is_empty()) {
        (Some(store), true) => {
            tracing::info!(
                store = %store.describe(),
                "CI_PREVIEW_REDIS_URL is set but no endpoint has single_use = true: not connecting"
            );
            Ok(())
        }
        (None, true) => Ok(()),
        (None, false) => {
            tracing::info!(
                endpoints = ?single_use,
                "single-use tokens recorded in memory: valid for this instance only; set \
                 CI_PREVIEW_REDIS_URL when several instances serve these endpoints"
            );
            Ok(())
        }
        (Some(store), false) => {
            let started = std::time::Instant::now();
            store.ping().await.map_err(|e| {
                format!(
                    "cannot reach the replay store ({}): {e}; refusing to serve single_use \
                     endpoints without it (fail closed)",
                    store.describe()
                )
            })?;
            tracing::info!(
                store = %store.describe(),
                endpoints = ?single_use,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "replay store reachable"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_url_is_unset_and_malformed_url_is_a_config_error() {
        assert!(open(None, None).unwrap().is_none());
        assert!(
            open(Some(&SecretString::new("  ")), None)
                .unwrap()
                .is_none()
        );
        let url = SecretString::new(" redis://127.0.0.1:6379/ ");
        assert!(open(Some(&url), None).unwrap().is_some());
        let error = open(Some(&SecretString::new("postgres://u:hunter2@h/")), None).unwrap_err();
        assert!(error.starts_with("CI_PREVIEW_REDIS_URL: "), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        // A CA file alone, or one that cannot be read, is a configuration error.
        let missing = Path::new("/nonexistent/ca.pem");
        assert!(
            open(None, Some(missing))
                .unwrap_err()
                .contains("CI_PREVIEW_REDIS_URL is not")
        );
        let tls = SecretString::new("rediss://127.0.0.1:6379/");
        assert!(
            open(Some(&tls), Some(missing))
                .unwrap_err()
                .contains("CI_PREVIEW_REDIS_CA_FILE")
        );
    }
}
