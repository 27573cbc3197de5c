//! Which hosts are this deployment's own: the only hosts the endpoint sends the bypass secret to.
//!
//! The host comes from the verified request (`x-forwarded-host`, which Vercel's edge sets and
//! overwrites, else `Host`), so it is caller-influenced wherever no edge stands in front. It is
//! therefore primed only when it is one of:
//!
//! - `VERCEL_URL` (the deployment's unique URL) or `VERCEL_BRANCH_URL` (its branch alias), the
//!   system variables Vercel sets, host names without a scheme; primed at `https://HOST`;
//! - a host the endpoint's policy lists in `preview_hosts` (custom preview domains); `https`;
//! - the host (and port) of `CI_PREVIEW_SELF_URL`, the deployment's own URL for local and
//!   emulated edges; primed at that URL's origin. `http://` is accepted only for a loopback
//!   address, and `CI_PREVIEW_SELF_CA` may name a PEM file of extra roots for an `https` one
//!   (a test CA).
//!
//! Anything else (another domain, another port, a list of hosts, a host with a path or
//! credentials tucked in) is refused with a reason before any request is made.

use std::net::IpAddr;
use std::path::PathBuf;

use url::Url;

/// The deployment's own URL for local and emulated edges.
pub const SELF_URL_VAR: &str = "CI_PREVIEW_SELF_URL";
/// A PEM file of extra root certificates for an `https` [`SELF_URL_VAR`] (a test CA).
pub const SELF_CA_VAR: &str = "CI_PREVIEW_SELF_CA";
/// Vercel's system variables naming the deployment's hosts.
pub const PLATFORM_VARS: [&str; 2] = ["VERCEL_URL", "VERCEL_BRANCH_URL"];

/// The deployment's own hosts, read once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnHosts {
    /// Lower-case host names primed over `https` (from `VERCEL_URL`, `VERCEL_BRANCH_URL`).
    platform: Vec<String>,
    /// `CI_PREVIEW_SELF_URL`'s origin.
    self_url: Option<Url>,
    /// `CI_PREVIEW_SELF_CA`.
    self_ca: Option<PathBuf>,
}

/// Why a requested host is not primed: `reason` is the word the answer carries; `detail` says
/// what was asked and which hosts are this deployment's (for tests and tools: the kit's refusal
/// line logs the reason, and request text never reaches the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRefusal {
    /// The word the answer carries.
    pub reason: &'static str,
    /// What was asked and which hosts are this deployment's.
    pub detail: String,
}

impl OwnHosts {
    /// Reads [`PLATFORM_VARS`], [`SELF_URL_VAR`] and [`SELF_CA_VAR`] from the process environment.
    pub fn from_env() -> Result<OwnHosts, (&'static str, String)> {
        OwnHosts::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`; blank counts as unset. The error names the variable.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<OwnHosts, (&'static str, String)> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut hosts = OwnHosts::default();
        for var in PLATFORM_VARS {
            if let Some(value) = get(var) {
                hosts = hosts.with_platform_host(&value).map_err(|m| (var, m))?;
            }
        }
        if let Some(url) = get(SELF_URL_VAR) {
            hosts = hosts.with_self_url(&url).map_err(|m| (SELF_URL_VAR, m))?;
        }
        if let Some(path) = get(SELF_CA_VAR) {
            if hosts.self_url.is_none() {
                return Err((SELF_CA_VAR, format!("is only read with {SELF_URL_VAR}")));
            }
            hosts.self_ca = Some(PathBuf::from(path));
        }
        Ok(hosts)
    }

    /// Adds a platform host (`VERCEL_URL`'s form: `name.vercel.app`, an `https://` prefix is
    /// tolerated).
    pub fn with_platform_host(mut self, value: &str) -> Result<OwnHosts, String> {
        let bare = value.strip_prefix("https://").unwrap_or(value);
        let bare = bare.trim_end_matches('/').to_ascii_lowercase();
        let parsed = Requested::parse(&bare).filter(|r| r.port.is_none() && r.host == bare);
        if parsed.is_none() {
            return Err(format!(
                "{value:?} is not a host name (Vercel sets it as e.g. app-abc123-team.vercel.app)"
            ));
        }
        self.platform.push(bare);
        Ok(self)
    }

    /// Sets the deployment's own URL: `https://…`, or `http://` to a loopback address.
    pub fn with_self_url(mut self, value: &str) -> Result<OwnHosts, String> {
        let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(format!(
                    "{value:?} is plain http to a non-loopback host: the bypass secret would travel \
                     unencrypted; use https (http only for 127.0.0.1, ::1 or localhost)"
                ));
            }
            other => return Err(format!("{value:?}: unsupported scheme {other:?}")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{value:?} must not carry credentials"));
        }
        let mut origin = url;
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);
        self.self_url = Some(origin);
        Ok(self)
    }

    /// The extra roots file for an `https` self URL, if configured.
    pub fn self_ca(&self) -> Option<&PathBuf> {
        self.self_ca.as_ref()
    }

    /// Whether any host is known (else every request is refused: logged at start-up).
    pub fn is_empty(&self) -> bool {
        self.platform.is_empty() && self.self_url.is_none()
    }

    /// A short description for the start-up log (hosts are not secrets).
    pub fn describe(&self, policy_hosts: &[String]) -> String {
        let mut all: Vec<String> = self.platform.clone();
        all.extend(policy_hosts.iter().cloned());
        if let Some(url) = &self.self_url {
            all.push(url.as_str().trim_end_matches('/').to_owned());
        }
        all.join(", ")
    }

    /// The origin to prime for a request that arrived on `requested` (a `Host` /
    /// `x-forwarded-host` value), or why not.
    pub fn origin_for(&self, requested: &str, policy_hosts: &[String]) -> Result<Url, HostRefusal> {
        let refuse = |detail: String| HostRefusal {
            reason: "host_not_allowed",
            detail,
        };
        let Some(asked) = Requested::parse(requested) else {
            return Err(refuse(format!("{requested:?} is not a single host[:port]")));
        };
        if let Some(url) = &self.self_url
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&asked.host))
            && asked.port.or_else(|| default_port(url.scheme())) == url.port_or_known_default()
        {
            return Ok(url.clone());
        }
        let named = self
            .platform
            .iter()
            .chain(policy_hosts)
            .any(|h| *h == asked.host);
        if named && asked.port.is_none_or(|p| p == 443) {
            return Url::parse(&format!("https://{}/", asked.host))
                .map_err(|e| refuse(format!("{requested:?}: {e}")));
        }
        Err(refuse(format!(
            "{requested:?} is not one of this deployment's hosts ({})",
            self.describe(policy_hosts)
        )))
    }
}

/// A requested host, parsed: lower-case name (or IP literal) and an explicit port, if any.
struct Requested {
    host: String,
    port: Option<u16>,
}

impl Requested {
    /// One `host[:port]` and nothing else: no list, no path, no credentials, no scheme.
    fn parse(value: &str) -> Option<Requested> {
        let value = value.trim();
        let plain = |b: u8| b.is_ascii_alphanumeric() || b".-:[]".contains(&b);
        if value.is_empty() || !value.bytes().all(plain) {
            return None;
        }
        let url = Url::parse(&format!("https://{value}/")).ok()?;
        let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || url.path() != "/" {
            return None;
        }
        // `Url` drops :443 for https; an explicit other port is kept.
        let port = url
            .port()
            .or_else(|| value.ends_with(":443").then_some(443));
        Some(Requested { host, port })
    }
}

/// A lower-case DNS name: labels of `a-z`, `0-9`, `-` (not at either end), at least two labels.
pub(crate) fn is_host_name(host: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    host.len() <= 253 && host.contains('.') && host.split('.').all(label_ok)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vercel() -> OwnHosts {
        OwnHosts::from_lookup(|name| match name {
            "VERCEL_URL" => Some("app-abc123-team.vercel.app".into()),
            "VERCEL_BRANCH_URL" => Some("app-git-feature-team.vercel.app".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn the_platform_hosts_and_the_policy_hosts_are_primed_over_https() {
        let hosts = vercel();
        let policy = vec!["preview.example.com".to_owned()];
        for (asked, origin) in [
            (
                "app-abc123-team.vercel.app",
                "https://app-abc123-team.vercel.app/",
            ),
            (
                "APP-GIT-FEATURE-TEAM.vercel.app",
                "https://app-git-feature-team.vercel.app/",
            ),
            (
                "app-abc123-team.vercel.app:443",
                "https://app-abc123-team.vercel.app/",
            ),
            ("preview.example.com", "https://preview.example.com/"),
        ] {
            assert_eq!(
                hosts.origin_for(asked, &policy).unwrap().as_str(),
                origin,
                "{asked}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let hosts = vercel();
        for asked in [
            "evil.example",
            "app-abc123-team.vercel.app.evil.example",
            "app-abc123-team.vercel.app:8443",
            "app-abc123-team.vercel.app, evil.example",
            "evil.example/@app-abc123-team.vercel.app",
            "user@app-abc123-team.vercel.app",
            "https://app-abc123-team.vercel.app",
            "",
            "preview.example.com",
        ] {
            let refusal = hosts.origin_for(asked, &[]).unwrap_err();
            assert_eq!(refusal.reason, "host_not_allowed", "{asked}");
        }
    }

    #[test]
    fn the_self_url_names_host_and_port() {
        let hosts = OwnHosts::default()
            .with_self_url("http://127.0.0.1:4100/x?y")
            .unwrap();
        assert_eq!(
            hosts.origin_for("127.0.0.1:4100", &[]).unwrap().as_str(),
            "http://127.0.0.1:4100/"
        );
        assert!(hosts.origin_for("127.0.0.1:4101", &[]).is_err());
        assert!(hosts.origin_for("127.0.0.1", &[]).is_err());
        let tls = OwnHosts::default()
            .with_self_url("https://preview.test")
            .unwrap();
        assert!(tls.origin_for("preview.test", &[]).is_ok());
        assert!(tls.origin_for("preview.test:443", &[]).is_ok());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for good in [
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
            "http://localhost:3000",
        ] {
            assert!(OwnHosts::default().with_self_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://preview.test",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://u:p@x.test",
        ] {
            assert!(OwnHosts::default().with_self_url(bad).is_err(), "{bad}");
        }
        let err = OwnHosts::from_lookup(|n| (n == "VERCEL_URL").then(|| "a b".into())).unwrap_err();
        assert_eq!(err.0, "VERCEL_URL");
        let err =
            OwnHosts::from_lookup(|n| (n == SELF_CA_VAR).then(|| "/ca.pem".into())).unwrap_err();
        assert_eq!(err.0, SELF_CA_VAR);
    }
}
