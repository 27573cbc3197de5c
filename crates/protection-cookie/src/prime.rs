//! The priming request: `GET {origin}/api/~/ci/health` with `x-vercel-protection-bypass` and
//! `x-vercel-set-bypass-cookie`, redirects not followed, a short timeout; Vercel's edge answers
//! with a redirect that sets `_vercel_jwt` for the requested host, which becomes a Playwright
//! `storageState` cookie.
//!
//! What each answer means:
//!
//! | answer | outcome |
//! |---|---|
//! | any status with a `Set-Cookie: _vercel_jwt=…` | [`Primed::Cookie`] |
//! | `2xx` without it (the app itself answered) | [`Primed::NotProtected`] |
//! | `401`/`403` (the edge refused the secret) | [`PrimingError::Refused`] |
//! | anything else (a redirect to a login, a `5xx`) | [`PrimingError::NoCookie`] |
//! | no answer within [`TIMEOUT`] | [`PrimingError::Unreachable`] |
//!
//! The secret goes in a header marked sensitive, and no error or log text is built from the
//! request: a transport error is described by its kind only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderValue, SET_COOKIE};
use serde::Serialize;
use url::Url;

use crate::set_cookie;

/// The cookie Vercel's edge sets for a bypass.
pub const VERCEL_COOKIE: &str = "_vercel_jwt";
/// The whole priming request, connection included, must fit in this.
pub const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const BYPASS_HEADER: &str = "x-vercel-protection-bypass";
const SET_COOKIE_HEADER: &str = "x-vercel-set-bypass-cookie";

/// A cookie in Playwright's `storageState` shape (`browserContext.addCookies`).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageCookie {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value.
    pub value: String,
    /// The host, without a port (Playwright matches cookies by host name).
    pub domain: String,
    /// The cookie's path.
    pub path: String,
    /// Unix seconds; `-1` for a session cookie.
    pub expires: i64,
    /// Whether scripts cannot read it.
    pub http_only: bool,
    /// Whether it is sent over https only.
    pub secure: bool,
    /// `Strict`, `Lax` or `None`.
    pub same_site: &'static str,
}

impl std::fmt::Debug for StorageCookie {
    // The value is a credential for the preview: never in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageCookie")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("expires", &self.expires)
            .field("same_site", &self.same_site)
            .finish_non_exhaustive()
    }
}

/// What priming got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Primed {
    /// The edge's bypass cookie.
    Cookie(StorageCookie),
    /// The app answered without a cookie: the deployment is not protected.
    NotProtected,
}

/// Why priming got no cookie. `reason()` is the word the endpoint answers with; `Display` is for
/// the log and never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimingError {
    /// No answer (connection refused, timeout, TLS).
    Unreachable(&'static str),
    /// The edge refused the secret (rotated, or another protection method in the way).
    Refused {
        /// The edge's HTTP status.
        status: u16,
    },
    /// An answer without a bypass cookie while the deployment is protected.
    NoCookie {
        /// The edge's HTTP status.
        status: u16,
    },
}

impl PrimingError {
    /// The edge's HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PrimingError::Unreachable(_) => None,
            PrimingError::Refused { status } | PrimingError::NoCookie { status } => Some(*status),
        }
    }

    /// The reason word of the endpoint's 502 answer.
    pub fn reason(&self) -> &'static str {
        match self {
            PrimingError::Unreachable(_) => "edge_unreachable",
            PrimingError::Refused { .. } => "edge_refused",
            PrimingError::NoCookie { .. } => "no_cookie",
        }
    }
}

impl std::fmt::Display for PrimingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrimingError::Unreachable(kind) => write!(f, "the edge did not answer ({kind})"),
            PrimingError::Refused { status } => write!(
                f,
                "the edge refused the bypass secret (HTTP {status}): is \
                 VERCEL_AUTOMATION_BYPASS_SECRET still one of the project's bypass secrets?"
            ),
            PrimingError::NoCookie { status } => {
                write!(f, "the edge answered HTTP {status} without a bypass cookie")
            }
        }
    }
}

/// The HTTP client priming requests go through: no redirects, short timeouts, the Mozilla roots
/// compiled in (a `FROM scratch` image has no CA store) plus `extra_roots` (a PEM bundle).
#[derive(Debug, Clone)]
pub struct Primer {
    client: reqwest::Client,
}

impl Primer {
    /// A primer trusting the platform's roots, plus `extra_roots` (PEM) for a test edge.
    pub fn new(extra_roots: Option<&[u8]>) -> Result<Primer, String> {
        let mut roots: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect();
        if let Some(pem) = extra_roots {
            let extra = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("is not a PEM bundle of certificates: {e}"))?;
            if extra.is_empty() {
                return Err("holds no certificate".to_owned());
            }
            roots.extend(extra);
        }
        ci_oidc::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(concat!("ci-in-preview/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .tls_certs_only(roots)
            .build()
            .map_err(|e| format!("cannot build the priming client: {e}"))?;
        Ok(Primer { client })
    }

    /// Primes `origin` with `secret`; `same_site_none` asks for a `SameSite=None` cookie.
    pub async fn prime(
        &self,
        origin: &Url,
        secret: &str,
        same_site_none: bool,
    ) -> Result<Primed, PrimingError> {
        let mut url = origin.clone();
        url.set_path("/api/~/ci/health");
        let mut bypass = HeaderValue::from_str(secret)
            .map_err(|_| PrimingError::Unreachable("the secret is not a header value"))?;
        bypass.set_sensitive(true);
        let ask = if same_site_none {
            "samesitenone"
        } else {
            "true"
        };
        let answer = self
            .client
            .get(url)
            .header(BYPASS_HEADER, bypass)
            .header(SET_COOKIE_HEADER, ask)
            .send()
            .await
            .map_err(|e| PrimingError::Unreachable(transport_kind(&e)))?;
        let status = answer.status().as_u16();
        let domain = origin.host_str().unwrap_or_default().to_owned();
        let secure_origin = origin.scheme() == "https";
        let now = unix_now();
        let cookie = answer
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| set_cookie::parse(v, &domain, secure_origin, now))
            .find(|c| c.name == VERCEL_COOKIE);
        match (cookie, status) {
            (Some(cookie), _) => Ok(Primed::Cookie(cookie)),
            (None, 200..=299) => Ok(Primed::NotProtected),
            (None, 401 | 403) => Err(PrimingError::Refused { status }),
            (None, _) => Err(PrimingError::NoCookie { status }),
        }
    }
}

fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
