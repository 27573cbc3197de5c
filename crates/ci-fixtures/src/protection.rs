//! An emulated Vercel Deployment Protection: the decision Vercel's edge makes for every request
//! to a protected deployment, usable two ways.
//!
//! - [`DeploymentProtection::protect`] layers it in front of an in-process router (client tests).
//! - [`VercelEdge`] is a front door on a socket that decides, then forwards to one or more
//!   upstreams (a `ci-preview-server`, the Vercel function, a Next.js app) with the headers
//!   Vercel's edge sets. A deployment that primes itself (`vercel/protection-cookie`) sends its
//!   priming request back through it, as on Vercel. Serve [`VercelEdge::router`] behind your own
//!   TLS front for browsers: `Secure` cookies behave as on a real site only over HTTPS.
//!
//! What the edge does, per request (as Vercel documents it, "Protection Bypass for Automation"
//! and "Trusted Sources"; what is not documented is called out):
//!
//! 1. `x-vercel-protection-bypass: <secret>` (header, or query parameter of that name) with a
//!    project bypass secret passes. With `x-vercel-set-bypass-cookie: true` (or `samesitenone`)
//!    the edge answers itself, `307` back to the same URL (bypass parameters removed), with
//!    `Set-Cookie: _vercel_jwt=…; Path=/; Max-Age=…; Secure; HttpOnly; SameSite=Lax` (`None`
//!    for `samesitenone`) and no `Domain`: a host-only cookie, valid for the requested host
//!    alone. A wrong secret is refused.
//! 2. `x-vercel-trusted-oidc-idp-token: <JWT>` passes when the Trusted Sources rule accepts it
//!    (RS256 signature by the mock issuer's key, issuer, exactly the rule's audience, not
//!    expired). Checked on every request; it never turns into a cookie. A token that fails falls
//!    through to the other methods.
//! 3. A `_vercel_jwt` cookie this edge issued, for this host, not expired, passes.
//! 4. Anything else is stopped: `401` with a `_vercel_sso_nonce` cookie and a page sending the
//!    browser to Vercel's login (what Vercel answers), or, with
//!    [`DeploymentProtection::with_login_redirect`], a `302` to the login.
//!
//! Emulation choices where Vercel documents nothing: the cookie's value is random (Vercel's is a
//! signed JWT), its lifetime is one hour unless [`DeploymentProtection::with_cookie_lifetime`]
//! says otherwise, and the protection headers are removed before a request is forwarded, so an
//! app cannot come to depend on seeing them. Every decision is recorded ([`DeploymentProtection::seen`]),
//! with the host, so a test can say which path each request took.

mod edge;
mod request;
mod trusted_sources;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

pub use edge::{EdgeBuilder, VercelEdge};

use crate::MockIssuer;
use request::{cookies, percent_encode, query_pairs, random_value, without_bypass_params};
use trusted_sources::Rule;

/// Where stopped requests are sent to log in.
pub const LOGIN_URL: &str = "https://vercel.com/sso-api";
/// The cookie the priming answer sets.
pub const COOKIE_NAME: &str = "_vercel_jwt";
/// The cookie a stopped request gets (the login flow's nonce).
pub const NONCE_COOKIE: &str = "_vercel_sso_nonce";
/// The header (or query parameter) carrying the bypass secret.
pub const BYPASS_HEADER: &str = "x-vercel-protection-bypass";
/// The header (or query parameter) asking for the bypass cookie: `true` or `samesitenone`.
pub const SET_COOKIE_HEADER: &str = "x-vercel-set-bypass-cookie";
/// The header Trusted Sources read the OIDC token from.
pub const OIDC_HEADER: &str = "x-vercel-trusted-oidc-idp-token";
/// How long a bypass cookie lives unless configured.
pub const DEFAULT_COOKIE_LIFETIME: Duration = Duration::from_secs(3600);

/// How a request was let through, or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passage {
    /// The bypass secret.
    Bypass,
    /// A Trusted Sources token.
    Oidc,
    /// A bypass cookie issued for this host.
    Cookie,
    /// A priming request, answered by the edge with the cookie.
    Primed,
    /// Stopped; `why` says what was wrong.
    Blocked(String),
}

impl Passage {
    /// Whether the request reached the deployment.
    pub fn passed(&self) -> bool {
        matches!(self, Passage::Bypass | Passage::Oidc | Passage::Cookie)
    }
}

/// One request as the edge saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The host it was sent to (`Host`, with the port).
    pub host: String,
    /// The request's path.
    pub path: String,
    /// How it was let through, or why not.
    pub passage: Passage,
}

/// A bypass cookie the edge issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCookie {
    /// The cookie's value.
    pub value: String,
    /// The one host it is good for.
    pub host: String,
    /// Unix seconds.
    pub expires: u64,
    /// `Lax`, or `None` when `samesitenone` was asked for.
    pub same_site: &'static str,
}

#[derive(Debug)]
struct Inner {
    bypass: Vec<String>,
    rule: Option<Rule>,
    cookie_lifetime: Duration,
    login_redirect: bool,
    issued: Mutex<HashMap<String, IssuedCookie>>,
    seen: Mutex<Vec<Seen>>,
}

/// The protection settings of one emulated project, and the record of what its edge decided;
/// cheap to clone, clones share the record.
#[derive(Debug, Clone)]
pub struct DeploymentProtection {
    inner: Arc<Inner>,
}

impl Default for DeploymentProtection {
    fn default() -> Self {
        Self::new()
    }
}

impl DeploymentProtection {
    /// Protection with no way through yet (every request is stopped).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                bypass: Vec::new(),
                rule: None,
                cookie_lifetime: DEFAULT_COOKIE_LIFETIME,
                login_redirect: false,
                issued: Mutex::default(),
                seen: Mutex::default(),
            }),
        }
    }

    /// Accepts `secret` in `x-vercel-protection-bypass` (a project may have several).
    pub fn with_bypass(self, secret: &str) -> Self {
        self.rebuild(|inner| inner.bypass.push(secret.to_owned()))
    }

    /// Accepts tokens of `issuer` for exactly `audience` (a Trusted Sources rule).
    pub fn with_trusted_source(self, issuer: &MockIssuer, audience: &str) -> Self {
        let rule = Rule::new(issuer, audience);
        self.rebuild(|inner| inner.rule = Some(rule))
    }

    /// Bypass cookies live `lifetime` (default [`DEFAULT_COOKIE_LIFETIME`]).
    pub fn with_cookie_lifetime(self, lifetime: Duration) -> Self {
        self.rebuild(|inner| inner.cookie_lifetime = lifetime)
    }

    /// Stopped requests get a `302` to the login instead of Vercel's `401` page.
    pub fn with_login_redirect(self) -> Self {
        self.rebuild(|inner| inner.login_redirect = true)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).expect("configure before protecting a router");
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// `router` behind this protection (in process: the host is the request's `Host`).
    pub fn protect<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(middleware::from_fn_with_state(self.clone(), layer))
    }

    /// Every decision so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.inner.seen).clone()
    }

    /// Every bypass cookie issued so far.
    pub fn issued(&self) -> Vec<IssuedCookie> {
        lock(&self.inner.issued).values().cloned().collect()
    }

    /// The value of the newest unexpired cookie issued for `host`, if any.
    pub fn cookie_for(&self, host: &str) -> Option<String> {
        let now = unix_now();
        lock(&self.inner.issued)
            .values()
            .filter(|c| c.host.eq_ignore_ascii_case(host) && c.expires > now)
            .max_by_key(|c| c.expires)
            .map(|c| c.value.clone())
    }

    /// Decides a request to `host` for `uri` with `headers`, records it, and returns either the
    /// edge's own answer or `None` to let it through. The forwarder removes the protection
    /// headers afterwards ([`strip`]).
    pub fn gate(&self, host: &str, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let query = query_pairs(uri);
        let (passage, same_site) = self.decide(host, &query, headers);
        lock(&self.inner.seen).push(Seen {
            host: host.to_owned(),
            path: uri.path().to_owned(),
            passage: passage.clone(),
        });
        match passage {
            Passage::Bypass | Passage::Oidc | Passage::Cookie => None,
            Passage::Primed => Some(self.prime(host, uri, same_site)),
            Passage::Blocked(_) => Some(self.stop(host, uri)),
        }
    }

    fn decide(
        &self,
        host: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> (Passage, &'static str) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let either = |name: &str| header(name).or_else(|| param(name));
        if let Some(sent) = either(BYPASS_HEADER) {
            if !self.inner.bypass.iter().any(|secret| secret == sent) {
                return (Passage::Blocked("wrong bypass secret".to_owned()), "Lax");
            }
            return match either(SET_COOKIE_HEADER).map(str::to_ascii_lowercase) {
                Some(v) if v == "samesitenone" => (Passage::Primed, "None"),
                Some(_) => (Passage::Primed, "Lax"),
                None => (Passage::Bypass, "Lax"),
            };
        }
        let mut why = "no credentials".to_owned();
        if let Some(token) = header(OIDC_HEADER) {
            let checked = match &self.inner.rule {
                Some(rule) => rule.check(token),
                None => Err("no Trusted Sources rule".to_owned()),
            };
            match checked {
                Ok(()) => return (Passage::Oidc, "Lax"),
                // Vercel: a token that fails its checks falls through to the other methods.
                Err(reason) => why = reason,
            }
        }
        let now = unix_now();
        let issued = lock(&self.inner.issued);
        for value in cookies(headers, COOKIE_NAME) {
            match issued.get(value) {
                Some(c) if c.host.eq_ignore_ascii_case(host) && c.expires > now => {
                    return (Passage::Cookie, "Lax");
                }
                Some(c) if c.expires <= now => why = "expired bypass cookie".to_owned(),
                Some(c) => why = format!("bypass cookie of another host ({})", c.host),
                None => why = "unknown bypass cookie".to_owned(),
            }
        }
        (Passage::Blocked(why), "Lax")
    }

    fn prime(&self, host: &str, uri: &Uri, same_site: &'static str) -> Response {
        let value = random_value();
        let lifetime = self.inner.cookie_lifetime.as_secs();
        lock(&self.inner.issued).insert(
            value.clone(),
            IssuedCookie {
                value: value.clone(),
                host: host.to_owned(),
                expires: unix_now() + lifetime,
                same_site,
            },
        );
        let set_cookie = format!(
            "{COOKIE_NAME}={value}; Path=/; Max-Age={lifetime}; Secure; HttpOnly; SameSite={same_site}"
        );
        (
            StatusCode::TEMPORARY_REDIRECT,
            [
                (header::LOCATION, without_bypass_params(uri)),
                (header::SET_COOKIE, set_cookie),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response()
    }

    fn stop(&self, host: &str, uri: &Uri) -> Response {
        let back = format!("https://{host}{}", without_bypass_params(uri));
        let login = format!("{LOGIN_URL}?url={}", percent_encode(&back));
        if self.inner.login_redirect {
            return (StatusCode::FOUND, [(header::LOCATION, login)]).into_response();
        }
        let nonce = format!(
            "{NONCE_COOKIE}={}; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax",
            random_value()
        );
        let page = format!(
            "<!doctype html><title>Authentication Required</title>\
             <meta http-equiv=\"refresh\" content=\"0; url={login}\">\
             <a href=\"{login}\">Log in to Vercel</a>"
        );
        let mut response = (StatusCode::UNAUTHORIZED, page).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::SERVER, HeaderValue::from_static("Vercel"));
        if let Ok(nonce) = HeaderValue::from_str(&nonce) {
            headers.insert(header::SET_COOKIE, nonce);
        }
        response
    }
}

/// Removes what only the edge reads, so the deployment never sees a bypass secret or a
/// protection token.
pub fn strip(headers: &mut HeaderMap) {
    for name in [BYPASS_HEADER, SET_COOKIE_HEADER, OIDC_HEADER] {
        headers.remove(name);
    }
}

async fn layer(
    State(protection): State<DeploymentProtection>,
    mut request: Request,
    next: Next,
) -> Response {
    let host = request_host(&request);
    if let Some(answer) = protection.gate(&host, request.uri(), request.headers()) {
        return answer;
    }
    strip(request.headers_mut());
    next.run(request).await
}

/// The host a request was sent to: `Host`, else the URI's authority, else `localhost`.
fn request_host(request: &Request) -> String {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned())
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
