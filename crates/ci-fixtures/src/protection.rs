//! A stand-in for Vercel Deployment Protection, layered in front of any test preview router.
//!
//! It behaves as the edge does for the two machine paths the client uses: a request passes with
//! the project's bypass secret in `x-vercel-protection-bypass`, or with a GitHub OIDC token in
//! `x-vercel-trusted-oidc-idp-token` that the mock issuer signed (RS256, checked against its key),
//! for the issuer and the one audience the Trusted Sources rule names, not expired. Anything else
//! is redirected to Vercel's login, as a browser would be. A bypass request carrying
//! `x-vercel-set-bypass-cookie` is answered with a redirect that sets the protection cookie, and a
//! request carrying that cookie passes: the priming recipe a Playwright storageState relies on.
//! Every decision is recorded, so a test can say which path each request took.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::MockIssuer;
use crate::keys::TestKey;

/// Where unauthenticated requests are sent.
pub const LOGIN_URL: &str = "https://vercel.com/sso-api";
/// The cookie the priming redirect sets.
pub const COOKIE_NAME: &str = "_vercel_jwt";

/// How a request was let through, or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passage {
    /// The bypass secret in `x-vercel-protection-bypass`.
    Bypass,
    /// A Trusted Sources OIDC token in `x-vercel-trusted-oidc-idp-token`.
    Oidc,
    /// The bypass cookie set by a priming request.
    Cookie,
    /// A priming request answered with the cookie.
    Primed,
    /// Redirected to the login; `why` says what was wrong.
    Blocked(String),
}

/// One request as the edge saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request's path.
    pub path: String,
    /// How it was let through, or why not.
    pub passage: Passage,
}

#[derive(Debug)]
struct Rule {
    issuer: String,
    audience: String,
    key: Arc<TestKey>,
}

#[derive(Debug, Default)]
struct Inner {
    bypass: Option<String>,
    rule: Option<Rule>,
    cookie_value: String,
    seen: Mutex<Vec<Seen>>,
}

/// The protection settings of one mock project; cheap to clone, shares its record.
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
    /// Protection with no way through yet (everything is redirected).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                cookie_value: format!("mock-protection-cookie-{}", std::process::id()),
                ..Inner::default()
            }),
        }
    }

    /// Accepts `secret` in `x-vercel-protection-bypass` (Protection Bypass for Automation).
    pub fn with_bypass(self, secret: &str) -> Self {
        self.rebuild(|inner| inner.bypass = Some(secret.to_owned()))
    }

    /// Accepts tokens of `issuer` for exactly `audience` (a Trusted Sources rule).
    pub fn with_trusted_source(self, issuer: &MockIssuer, audience: &str) -> Self {
        let rule = Rule {
            issuer: issuer.issuer_url(),
            audience: audience.to_owned(),
            key: issuer.signing_key(),
        };
        self.rebuild(|inner| inner.rule = Some(rule))
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).expect("configure before protecting a router");
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The value of the cookie the priming redirect sets.
    pub fn cookie_value(&self) -> &str {
        &self.inner.cookie_value
    }

    /// `router` behind this protection.
    pub fn protect<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(middleware::from_fn_with_state(self.clone(), edge))
    }

    /// Every decision so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn decide(&self, headers: &HeaderMap) -> Passage {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(sent) = text("x-vercel-protection-bypass") {
            return match &self.inner.bypass {
                Some(secret) if secret == sent => {
                    if text("x-vercel-set-bypass-cookie").is_some() {
                        Passage::Primed
                    } else {
                        Passage::Bypass
                    }
                }
                _ => Passage::Blocked("wrong bypass secret".to_owned()),
            };
        }
        if let Some(token) = text("x-vercel-trusted-oidc-idp-token") {
            return match self.check_token(token) {
                Ok(()) => Passage::Oidc,
                Err(why) => Passage::Blocked(why),
            };
        }
        let cookie = format!("{COOKIE_NAME}={}", self.inner.cookie_value);
        let has_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(';').any(|c| c.trim() == cookie));
        if has_cookie {
            return Passage::Cookie;
        }
        Passage::Blocked("no credentials".to_owned())
    }

    fn check_token(&self, token: &str) -> Result<(), String> {
        let rule = self.inner.rule.as_ref().ok_or("no Trusted Sources rule")?;
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT".to_owned());
        };
        let decode = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| "bad base64".to_owned())
        };
        let header: Value = serde_json::from_slice(&decode(head)?).map_err(|_| "bad header")?;
        if header["alg"] != "RS256" {
            return Err("not RS256".to_owned());
        }
        let key = RsaPublicKeyComponents {
            n: rule.key.modulus(),
            e: rule.key.exponent(),
        };
        key.verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{head}.{body}").as_bytes(),
            &decode(sig)?,
        )
        .map_err(|_| "bad signature".to_owned())?;
        let claims: Value = serde_json::from_slice(&decode(body)?).map_err(|_| "bad claims")?;
        if claims["iss"] != rule.issuer.as_str() {
            return Err("wrong issuer".to_owned());
        }
        if claims["aud"] != rule.audience.as_str() {
            return Err(format!("wrong audience {}", claims["aud"]));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
            return Err("expired".to_owned());
        }
        Ok(())
    }
}

async fn edge(
    State(protection): State<DeploymentProtection>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let passage = protection.decide(request.headers());
    protection
        .inner
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Seen {
            path: path.clone(),
            passage: passage.clone(),
        });
    match passage {
        Passage::Bypass | Passage::Oidc | Passage::Cookie => next.run(request).await,
        Passage::Primed => (
            StatusCode::TEMPORARY_REDIRECT,
            [
                (header::LOCATION, path),
                (
                    header::SET_COOKIE,
                    format!(
                        "{COOKIE_NAME}={}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
                        protection.inner.cookie_value
                    ),
                ),
            ],
        )
            .into_response(),
        Passage::Blocked(_) => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{LOGIN_URL}?url={path}"))],
        )
            .into_response(),
    }
}
