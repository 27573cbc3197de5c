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
            .filter_map(|v| parse_set_cookie(v, &domain, secure_origin, now))
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

/// One `Set-Cookie` header as the cookie a browser would store for `domain`: the `Domain`
/// attribute is ignored (the cookie stays host-only, as Vercel sets it), `Max-Age` wins over
/// `Expires`, `SameSite` defaults to `Lax`. `None` for a malformed or deleting header.
pub fn parse_set_cookie(
    header: &str,
    domain: &str,
    secure_origin: bool,
    now: i64,
) -> Option<StorageCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim().trim_matches('"'));
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b",;\\\"".contains(&b))
    };
    if !token(name) || !token(value) {
        return None;
    }
    let mut cookie = StorageCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: domain.to_owned(),
        path: "/".to_owned(),
        expires: -1,
        http_only: false,
        secure: secure_origin,
        same_site: "Lax",
    };
    let mut max_age: Option<i64> = None;
    let mut expires: Option<i64> = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let val = val.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "path" if val.starts_with('/') && token(val) => cookie.path = val.to_owned(),
            "max-age" => max_age = val.parse().ok(),
            "expires" => expires = expires.or_else(|| http_date(val)),
            "httponly" => cookie.http_only = true,
            "secure" => cookie.secure = true,
            "samesite" => {
                cookie.same_site = match val.to_ascii_lowercase().as_str() {
                    "strict" => "Strict",
                    "none" => "None",
                    _ => "Lax",
                }
            }
            _ => {}
        }
    }
    if let Some(at) = max_age.map(|secs| now.saturating_add(secs)).or(expires) {
        if at <= now {
            return None;
        }
        cookie.expires = at;
    }
    Some(cookie)
}

/// `Wed, 21 Oct 2026 07:28:00 GMT` (RFC 7231 IMF-fixdate, also with `-` between the date
/// fields) as Unix seconds.
fn http_date(value: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let rest = value.split_once(',').map_or(value, |(_, r)| r).trim();
    let fields: Vec<&str> = rest.split([' ', '-']).filter(|f| !f.is_empty()).collect();
    let [day, month, year, time, ..] = fields[..] else {
        return None;
    };
    let month = MONTHS.iter().position(|m| month.eq_ignore_ascii_case(m))? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|f| f.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(s))) = (hms.next(), hms.next(), hms.next()) else {
        return None;
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn vercels_cookie_becomes_a_host_only_storage_state_cookie() {
        let cookie = parse_set_cookie(
            "_vercel_jwt=eyJ.abc.def; Path=/; Domain=.vercel.app; Max-Age=3600; Secure; HttpOnly; SameSite=None",
            "app-git-x.vercel.app",
            true,
            NOW,
        )
        .unwrap();
        assert_eq!(cookie.name, "_vercel_jwt");
        assert_eq!(cookie.value, "eyJ.abc.def");
        assert_eq!(cookie.domain, "app-git-x.vercel.app");
        assert_eq!((cookie.path.as_str(), cookie.expires), ("/", NOW + 3600));
        assert!(cookie.http_only && cookie.secure);
        assert_eq!(cookie.same_site, "None");
        let json = serde_json::to_value(&cookie).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "_vercel_jwt", "value": "eyJ.abc.def",
                "domain": "app-git-x.vercel.app", "path": "/", "expires": NOW + 3600,
                "httpOnly": true, "secure": true, "sameSite": "None"})
        );
        assert!(
            !format!("{cookie:?}").contains("abc"),
            "Debug hides the value"
        );
    }

    #[test]
    fn dates_session_cookies_and_defaults() {
        let dated = parse_set_cookie(
            "b=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
            "h",
            false,
            NOW,
        )
        .unwrap();
        assert_eq!(dated.expires, 1_792_567_680);
        assert_eq!(dated.same_site, "Lax");
        assert!(!dated.secure && !dated.http_only);
        let session = parse_set_cookie("b=1; Path=/x", "h", true, NOW).unwrap();
        assert_eq!((session.expires, session.path.as_str()), (-1, "/x"));
        assert!(session.secure, "an https origin's cookie is secure");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn malformed_or_deleting_cookies_are_dropped() {
        for header in [
            "novalue",
            "=x",
            "a b=c",
            "a=",
            "a=1; Max-Age=0",
            "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "a=x\u{1b}y",
        ] {
            assert!(
                parse_set_cookie(header, "h", true, NOW).is_none(),
                "{header}"
            );
        }
    }
}
