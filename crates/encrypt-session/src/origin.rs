//! Which cookie name the endpoint issues: the one the app's Auth.js reads on this deployment.
//!
//! Auth.js names the session cookie `__Secure-authjs.session-token` when `useSecureCookies` is on
//! and `authjs.session-token` otherwise, and the name is also the key derivation's salt, so a cookie
//! under the wrong name is not merely ignored, it does not decrypt. `useSecureCookies` defaults to
//! "the app's URL is https" (`lib/init.ts`), and that URL comes from `AUTH_URL` (or `NEXTAUTH_URL`)
//! when set, else from the request: `x-forwarded-proto`, else the connection's protocol
//! (`createActionURL` in `lib/utils/env.ts`). The endpoint applies the same rule, in the same order:
//!
//! 1. `AUTH_URL`, else `NEXTAUTH_URL`, read at start-up: `https://…` gives the `__Secure-` name,
//!    `http://…` the plain one. Any other value breaks Auth.js in the app as well (it cannot parse
//!    its own URL); it is logged as an error at start-up and rule 2 applies.
//! 2. Otherwise per request: `x-forwarded-proto: https` (what Vercel and other HTTPS front ends
//!    send to the deployment) gives the `__Secure-` name; any other value, or none (a plain-HTTP
//!    server reached directly, as in local runs), the plain one.
//!
//! The response names the cookie, so a caller never has to guess. An app that sets
//! `useSecureCookies` or `cookies.sessionToken.name` itself must set `AUTH_URL` to match.

use axum::http::HeaderMap;

/// How the endpoint picks the cookie name; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieNames {
    /// Fixed by `AUTH_URL`/`NEXTAUTH_URL`.
    Fixed {
        /// `true` for https (the `__Secure-` names).
        secure: bool,
    },
    /// From each request's `x-forwarded-proto`.
    PerRequest,
}

impl CookieNames {
    /// The rule for this process's `AUTH_URL`, else `NEXTAUTH_URL`.
    pub fn from_env() -> CookieNames {
        let (var, url) = match std::env::var("AUTH_URL") {
            Ok(url) => ("AUTH_URL", Some(url)),
            Err(_) => ("NEXTAUTH_URL", std::env::var("NEXTAUTH_URL").ok()),
        };
        CookieNames::from_app_url(url.as_deref()).unwrap_or_else(|problem| {
            tracing::error!(
                "{var} {problem}; the session cookie's name follows each request's \
                 x-forwarded-proto instead"
            );
            CookieNames::PerRequest
        })
    }

    /// The rule for a deployment whose `AUTH_URL` (else `NEXTAUTH_URL`) is `url`. The error names
    /// what is wrong; the caller names the variable.
    pub fn from_app_url(url: Option<&str>) -> Result<CookieNames, String> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(CookieNames::PerRequest);
        };
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => Ok(CookieNames::Fixed { secure: true }),
            Some("http") => Ok(CookieNames::Fixed { secure: false }),
            _ => Err(
                "is not an http:// or https:// URL (Auth.js reads it as the app's URL)".to_owned(),
            ),
        }
    }

    /// Whether this request gets the `__Secure-` name.
    pub fn secure_for(self, headers: &HeaderMap) -> bool {
        match self {
            CookieNames::Fixed { secure } => secure,
            CookieNames::PerRequest => headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CookieNames;

    #[test]
    fn the_app_url_decides_as_in_authjs() {
        let rule = |url| CookieNames::from_app_url(url);
        assert_eq!(rule(None), Ok(CookieNames::PerRequest));
        assert_eq!(rule(Some("")), Ok(CookieNames::PerRequest));
        assert_eq!(
            rule(Some("https://app.example/")),
            Ok(CookieNames::Fixed { secure: true })
        );
        assert_eq!(
            rule(Some("HTTPS://app.example")),
            Ok(CookieNames::Fixed { secure: true })
        );
        assert_eq!(
            rule(Some("http://localhost:3000")),
            Ok(CookieNames::Fixed { secure: false })
        );
        assert!(rule(Some("app.example")).is_err());
        assert!(rule(Some("ftp://app.example")).is_err());
    }
}
