//! The issuer's signing keys: loaded once, shared by every verification, refreshed safely.
//!
//! A [`KeyStore`] is either static (a JWKS given as JSON or a file: no network at all) or
//! remote (a `jwks_url`, or the issuer's discovery document). Remote stores are fetched at
//! start-up ([`KeyStore::prefetch`]), refreshed in the background before the issuer's
//! `max-age` runs out ([`KeyStore::spawn_refresh`]), and refetched when a token names an
//! unknown `kid` — at most once per cooldown (counted between unknown-`kid` refetches only)
//! and single-flight, so a flood of made-up `kid`s costs the issuer one request — plus at most
//! one rotation probe per [`KeyStoreOptions::rotation_probe_interval`] for tokens whose claims
//! would pass the policy. A failed fetch, or one returning no usable key, never
//! replaces the last good set. The scheduling is in `keystore/refresh.rs`.

mod jwks;
mod refresh;
mod remote;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub(crate) use jwks::KeySet;
pub use jwks::SkippedKey;

use crate::config::{IssuerConfig, UrlError, check_url};
use remote::RemoteSource;

/// Tuning of a remote key store. `Default` gives the documented values.
#[derive(Debug, Clone)]
pub struct KeyStoreOptions {
    /// HTTP client to fetch with; `None` builds one (rustls, platform roots). A server in a
    /// `FROM scratch` image passes a client with embedded roots.
    pub client: Option<reqwest::Client>,
    /// Bound on one fetch (discovery + JWKS). Default 5 s.
    pub timeout: Duration,
    /// Minimum time between two fetches caused by unknown `kid`s. Default 60 s.
    pub unknown_kid_cooldown: Duration,
    /// Minimum time between two rotation probes: refetches, inside an armed unknown-`kid`
    /// cooldown, for a token whose (not yet verified) claims would pass the endpoint's policy.
    /// Default 10 s. See `keystore/refresh.rs`.
    pub rotation_probe_interval: Duration,
    /// Freshness when the JWKS response has no `max-age`. Default 1 h.
    pub default_max_age: Duration,
    /// `max-age` is clamped to at least this. Default 60 s.
    pub min_max_age: Duration,
    /// `max-age` is clamped to at most this. Default 24 h.
    pub max_max_age: Duration,
    /// First retry delay after a failed background refresh (doubles up to the freshness). Default 10 s.
    pub retry_backoff: Duration,
    /// Largest discovery or JWKS body accepted. Default 256 KiB.
    pub max_body_bytes: usize,
}

impl Default for KeyStoreOptions {
    fn default() -> Self {
        Self {
            client: None,
            timeout: Duration::from_secs(5),
            unknown_kid_cooldown: Duration::from_secs(60),
            rotation_probe_interval: Duration::from_secs(10),
            default_max_age: Duration::from_secs(3600),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(24 * 3600),
            retry_backoff: Duration::from_secs(10),
            max_body_bytes: 256 * 1024,
        }
    }
}

impl KeyStoreOptions {
    /// The defaults, fetching with `client`.
    pub fn with_client(client: reqwest::Client) -> Self {
        Self {
            client: Some(client),
            ..Self::default()
        }
    }
}

/// Why keys could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// An issuer or JWKS URL breaks the URL rules.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The JWKS file could not be read.
    #[error("issuer.jwks_file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The document is not a JWKS.
    #[error("invalid JWKS: {0}")]
    Jwks(String),
    /// The JWKS has no key this verifier can use.
    #[error("JWKS has no usable RS256 key ({} skipped)", skipped.len())]
    NoUsableKeys {
        /// The keys left out and why.
        skipped: Vec<SkippedKey>,
    },
    /// The discovery document is unusable.
    #[error("discovery: {0}")]
    Discovery(String),
    /// The discovery document names another issuer.
    #[error("discovery: issuer {actual:?} is not the configured {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        actual: String,
    },
    /// The HTTP request failed (connection, status, size).
    #[error("fetch: {0}")]
    Fetch(String),
    /// The fetch took longer than the timeout.
    #[error("fetch timed out after {0:?}")]
    Timeout(Duration),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
}

/// The keys of one issuer. Cheap to clone (shared state).
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    keys: RwLock<Arc<KeySet>>,
    remote: Option<RemoteSource>,
    opts: KeyStoreOptions,
    fetches: AtomicU64,
    refresh: tokio::sync::Mutex<refresh::RefreshState>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("kids", &self.kids())
            .field(
                "source",
                &self.inner.remote.as_ref().map_or("static", |_| "remote"),
            )
            .field("fetches", &self.fetch_count())
            .finish()
    }
}

impl KeyStore {
    /// A static store from a JWKS document. Unusable keys are skipped; none usable is an error.
    pub fn from_jwks_json(json: &[u8]) -> Result<KeyStore, KeyStoreError> {
        let store = Self::empty(None, KeyStoreOptions::default());
        store.inner.install(json)?;
        Ok(store)
    }

    /// A static store from a JWKS file.
    pub fn from_jwks_file(path: &Path) -> Result<KeyStore, KeyStoreError> {
        let json = std::fs::read(path).map_err(|e| KeyStoreError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_jwks_json(&json)
    }

    /// A store for `[issuer]`: static with `jwks_file`, otherwise remote (not fetched yet:
    /// call [`KeyStore::prefetch`]).
    pub fn from_issuer_config(
        cfg: &IssuerConfig,
        opts: KeyStoreOptions,
    ) -> Result<KeyStore, KeyStoreError> {
        cfg.validate()?;
        if let Some(path) = &cfg.jwks_file {
            return Self::from_jwks_file(path);
        }
        crate::install_crypto_provider();
        let client = match &opts.client {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .user_agent(concat!("ci-oidc/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(opts.timeout)
                .build()
                .map_err(|e| KeyStoreError::Client(e.to_string()))?,
        };
        let remote = RemoteSource {
            issuer: cfg.url.clone(),
            jwks_url: cfg.jwks_url.clone(),
            client,
        };
        Ok(Self::empty(Some(remote), opts))
    }

    /// A remote store fetching `jwks_url` directly (no discovery).
    pub fn from_jwks_url(jwks_url: &str, opts: KeyStoreOptions) -> Result<KeyStore, KeyStoreError> {
        check_url("issuer.jwks_url", jwks_url)?;
        let cfg = IssuerConfig {
            url: jwks_url.to_owned(),
            jwks_url: Some(jwks_url.to_owned()),
            jwks_file: None,
        };
        Self::from_issuer_config(&cfg, opts)
    }

    fn empty(remote: Option<RemoteSource>, opts: KeyStoreOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(KeySet::default())),
                remote,
                opts,
                fetches: AtomicU64::new(0),
                refresh: tokio::sync::Mutex::new(refresh::RefreshState::default()),
            }),
        }
    }

    /// Loads the keys now (remote stores; a no-op for static ones). A server calls this
    /// before accepting requests; on error the previous keys, if any, are kept.
    pub async fn prefetch(&self) -> Result<(), KeyStoreError> {
        self.inner.fetch_now().await
    }

    /// Starts the background refresh of a remote store (`None` for static stores). The task
    /// ends by itself once every clone of the store is dropped.
    pub fn spawn_refresh(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.remote.as_ref()?;
        Some(tokio::spawn(refresh::run(Arc::downgrade(&self.inner))))
    }

    /// Number of JWKS fetch attempts so far (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::SeqCst)
    }

    /// The `kid`s currently loaded.
    pub fn kids(&self) -> Vec<String> {
        self.inner.current().kids()
    }

    /// True for stores that fetch over HTTP.
    pub fn is_remote(&self) -> bool {
        self.inner.remote.is_some()
    }

    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.inner.current()
    }

    /// Called after a `kid` lookup failed: refetches unless another fetch happened since
    /// `fetches_before` (read before the lookup) or the unknown-kid cooldown forbids it; returns
    /// the newest set, and whether the cooldown held a due refetch back (the caller answers
    /// "retry later", not "unknown key").
    pub(crate) async fn refetch_for_unknown_kid(&self, fetches_before: u64) -> (Arc<KeySet>, bool) {
        self.inner.refetch_for_unknown_kid(fetches_before).await
    }

    /// Called when [`refetch_for_unknown_kid`](Self::refetch_for_unknown_kid) was held back by
    /// the cooldown and the token's claims would pass the policy: refetches unless another fetch
    /// happened since `fetches_before` or the rotation-probe interval forbids it; returns the
    /// newest set and whether the interval held a due probe back.
    pub(crate) async fn probe_rotation(&self, fetches_before: u64) -> (Arc<KeySet>, bool) {
        self.inner.probe_rotation(fetches_before).await
    }
}

impl Inner {
    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Parses `json` and replaces the key set; the old set stays on any error.
    fn install(&self, json: &[u8]) -> Result<(), KeyStoreError> {
        let (keys, skipped) = jwks::parse_jwks(json)?;
        for s in &skipped {
            tracing::warn!(kid = ?s.kid, reason = %s.reason, "skipping unusable JWKS key");
        }
        let mut guard = match self.keys.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let generation = guard.generation + 1;
        *guard = Arc::new(KeySet { generation, keys });
        Ok(())
    }
}
