//! Which discovered previews may receive the bypass secret and OIDC tokens.
//!
//! Any GitHub App or workflow with `deployments: write` can post a deployment of the pull request's
//! head commit, and anyone who can comment can post a URL. So a URL the client *discovered* is only
//! used when its host is on an allowlist: by default the Vercel preview domain `*.vercel.app`,
//! extended with `--allow-host PATTERN` / `CI_PREVIEW_ALLOW_HOSTS`. A URL the user gave explicitly
//! (`--url`, `PREVIEW_URL`) is trusted as given: the workflow's author chose it.
//!
//! Every Vercel app lives under `*.vercel.app`, so naming the project narrows the default to its
//! own previews ([`VercelProject`]): Vercel names them `<project>-<hash>-<scope>.vercel.app` and
//! `<project>-git-<branch>-<scope>.vercel.app` (a name over 63 characters is cut, keeping the
//! start and `-<hash>-<scope>`). The shape is a narrowing, not a proof: anyone can create a Vercel
//! project whose own domain has that shape, so the deployment and status creator checks stay the
//! control.
//!
//! The same patterns, without the default, are the hosts an endpoint audience announced by
//! health may name besides the preview's own (`crate::call::check_audience`).

use url::Url;

use crate::error::{CliError, Result};
use crate::{env, untrusted};

/// The platform's preview domain, always allowed.
pub(crate) const DEFAULT_ALLOWED: &str = "*.vercel.app";

#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct HostArgs {
    /// Also send secrets and tokens to a discovered preview on this host: `host`, `host:port`, or
    /// `*.domain` for its subdomains (a pattern without `:port` matches any port). Repeatable;
    /// the variable is comma-separated. `*.vercel.app` is always allowed for previews (only the
    /// project's own previews with --vercel-project or --vercel-scope). An
    /// endpoint audience announced by health must be on the preview's own host or on one of
    /// these patterns (never by the `*.vercel.app` default).
    #[arg(
        long = "allow-host",
        env = env::CI_PREVIEW_ALLOW_HOSTS,
        value_delimiter = ',',
        value_name = "PATTERN"
    )]
    pub allow_hosts: Vec<String>,
    /// The Vercel project whose previews these are: narrows the `*.vercel.app` default to hosts
    /// `<project>-….vercel.app` (one label), the shapes of its deployment and branch URLs.
    #[arg(long, env = env::CI_PREVIEW_VERCEL_PROJECT, value_name = "NAME")]
    pub vercel_project: Option<String>,
    /// The project's Vercel scope (team or account slug): narrows the default further to hosts
    /// ending `-<scope>.vercel.app`.
    #[arg(long, env = env::CI_PREVIEW_VERCEL_SCOPE, value_name = "SLUG")]
    pub vercel_scope: Option<String>,
}

/// The project's own preview hosts under `vercel.app`, replacing the `*.vercel.app` default when
/// the user names the project (`--vercel-project`) or its scope (`--vercel-scope`).
#[derive(Debug, Clone, PartialEq)]
struct VercelProject {
    /// `<project>-`, lower case.
    prefix: Option<String>,
    /// `-<scope>`, lower case.
    suffix: Option<String>,
}

impl VercelProject {
    fn of(args: &HostArgs) -> Result<Option<VercelProject>> {
        let slug = |flag: &str, value: &Option<String>| -> Result<Option<String>> {
            let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            let lower = value.to_ascii_lowercase();
            let valid = lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
                && !lower.starts_with('-');
            if !valid {
                return Err(CliError::config(format!(
                    "{flag} {:?} is not a Vercel name: letters, digits, `-`, `.` and `_` only",
                    untrusted::text(value)
                )));
            }
            // Vercel writes `.` and `_` of a name as `-` in its URLs.
            Ok(Some(lower.replace(['.', '_'], "-")))
        };
        let prefix = slug("--vercel-project", &args.vercel_project)?.map(|p| format!("{p}-"));
        let suffix = slug("--vercel-scope", &args.vercel_scope)?.map(|s| format!("-{s}"));
        Ok((prefix.is_some() || suffix.is_some()).then_some(VercelProject { prefix, suffix }))
    }

    fn allows(&self, host: &str) -> bool {
        let Some(label) = host.strip_suffix(".vercel.app") else {
            return false;
        };
        let starts = self.prefix.as_deref().is_none_or(|p| label.starts_with(p));
        let ends = self.suffix.as_deref().is_none_or(|s| label.ends_with(s));
        let room = self.prefix.as_ref().map_or(0, String::len)
            + self.suffix.as_ref().map_or(0, String::len);
        !label.contains('.') && starts && ends && label.len() > room
    }

    fn describe(&self) -> String {
        format!(
            "{}*{}.vercel.app",
            self.prefix.as_deref().unwrap_or(""),
            self.suffix.as_deref().unwrap_or("")
        )
    }
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    /// Lower-case host, without the `*.` of a wildcard (IPv6 without brackets).
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

#[derive(Debug, Clone)]
pub(crate) struct AllowHosts {
    patterns: Vec<Pattern>,
    /// The project's preview hosts, in place of the `*.vercel.app` default.
    vercel: Option<VercelProject>,
}

impl AllowHosts {
    /// The hosts a discovered preview may have: the default (`*.vercel.app`, or the named
    /// project's previews) and the user's patterns.
    pub(crate) fn new(args: &HostArgs) -> Result<Self> {
        let given = Self::given(args)?.patterns;
        let vercel = VercelProject::of(args)?;
        let mut patterns = Vec::new();
        if vercel.is_none() {
            patterns.push(parse(DEFAULT_ALLOWED)?);
        }
        patterns.extend(given);
        Ok(Self { patterns, vercel })
    }

    /// Only the patterns the user gave, without `*.vercel.app`: the hosts an endpoint audience
    /// announced by health may name besides the preview's own (every Vercel app lives under the
    /// default, so it would let a preview ask for another app's token).
    pub(crate) fn given(args: &HostArgs) -> Result<Self> {
        let mut patterns = Vec::new();
        for raw in args
            .allow_hosts
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
        {
            patterns.push(parse(raw)?);
        }
        Ok(Self {
            patterns,
            vercel: None,
        })
    }

    /// Whether `url`'s host (and port, where a pattern names one) is on the list.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        let host = host_of(url);
        if self.vercel.as_ref().is_some_and(|v| v.allows(&host)) {
            return true;
        }
        let port = url.port_or_known_default();
        self.patterns.iter().any(|p| {
            let host_ok = if p.wildcard {
                host.strip_suffix(&p.host)
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
            } else {
                host == p.host
            };
            host_ok && p.port.is_none_or(|want| Some(want) == port)
        })
    }

    /// Refuses a discovered URL whose host is not allowed (exit 2: the job's configuration decides).
    pub(crate) fn check(&self, url: &Url, source: &str) -> Result<()> {
        if self.allows(url) {
            return Ok(());
        }
        let host = host_of(url);
        Err(CliError::config(format!(
            "refusing the preview URL {} from {}: its host is not on the allowlist ({}), so it gets \
             neither the bypass secret nor a token. If this host really serves your previews, add \
             `--allow-host {}` (or CI_PREVIEW_ALLOW_HOSTS); otherwise another integration deployed \
             this commit: narrow discovery with --deployment-creator or --environment",
            untrusted::text(url.as_str().trim_end_matches('/')),
            untrusted::text(source),
            self.describe(),
            untrusted::text(&host),
        )))
    }

    pub(crate) fn describe(&self) -> String {
        self.vercel
            .iter()
            .map(VercelProject::describe)
            .chain(self.patterns.iter().map(Pattern::describe))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Pattern {
    fn describe(&self) -> String {
        let host = if self.wildcard {
            format!("*.{}", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }
}

/// Lower-case host of `url`, IPv6 without brackets.
fn host_of(url: &Url) -> String {
    match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string().to_ascii_lowercase(),
        None => String::new(),
    }
}

fn parse(raw: &str) -> Result<Pattern> {
    let bad = || {
        CliError::config(format!(
            "--allow-host {raw:?} is not a host pattern: use `host`, `host:port` or `*.domain`"
        ))
    };
    let lower = raw.to_ascii_lowercase();
    let (wildcard, rest) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (ip, after) = inner.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (ip.to_owned(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host.to_owned(), Some(port)),
            Some(_) => (rest.to_owned(), None),
            None => (rest.to_owned(), None),
        }
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| bad()))
        .transpose()?;
    let host = host.trim_end_matches('.').to_owned();
    let valid = !host.is_empty()
        && !host.contains('*')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:_".contains(&b));
    if !valid {
        return Err(bad());
    }
    Ok(Pattern {
        host,
        wildcard,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(extra: &[&str]) -> AllowHosts {
        AllowHosts::new(&HostArgs {
            allow_hosts: extra.iter().map(|s| (*s).to_owned()).collect(),
            ..HostArgs::default()
        })
        .unwrap()
    }

    fn project(name: Option<&str>, scope: Option<&str>, extra: &[&str]) -> Result<AllowHosts> {
        AllowHosts::new(&HostArgs {
            allow_hosts: extra.iter().map(|s| (*s).to_owned()).collect(),
            vercel_project: name.map(str::to_owned),
            vercel_scope: scope.map(str::to_owned),
        })
    }

    /// The review's suggestion: every Vercel app lives under `*.vercel.app`, so a named project
    /// narrows the default to its own deployment and branch URLs.
    #[test]
    fn a_named_project_narrows_the_default_to_its_previews() {
        let hosts = project(Some("Shop.Web"), Some("acme"), &["*.preview.example.com"]).unwrap();
        for good in [
            "https://shop-web-4f2k9x1ab-acme.vercel.app",
            "https://shop-web-git-feature-x-acme.vercel.app",
            "https://shop-web-git-a-very-long-branch-name-that-was-c-1a2b3c-acme.vercel.app",
            "https://pr-1.preview.example.com",
        ] {
            assert!(ok(&hosts, good), "{good}");
        }
        for bad in [
            "https://other-app-git-x-acme.vercel.app",
            "https://shop-web-git-x-evil.vercel.app",
            "https://shop-web.vercel.app",
            "https://shop-web-acme.vercel.app",
            "https://x.shop-web-1-acme.vercel.app",
            "https://shop-web-1-acme.vercel.app.evil.com",
            "https://shopweb-1-acme.vercel.app",
        ] {
            assert!(!ok(&hosts, bad), "{bad}");
        }
        assert!(
            hosts.describe().starts_with("shop-web-*-acme.vercel.app"),
            "{}",
            hosts.describe()
        );
        // The project alone: any scope.
        let hosts = project(Some("shop-web"), None, &[]).unwrap();
        assert!(ok(&hosts, "https://shop-web-git-x-evil.vercel.app"));
        assert!(!ok(&hosts, "https://other-git-x-acme.vercel.app"));
        // Names that are not Vercel names are a configuration error.
        for bad in ["shop web", "-x", "a/b"] {
            let err = project(Some(bad), None, &[]).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::Config);
            assert!(err.message.contains("--vercel-project"), "{}", err.message);
        }
    }

    fn ok(hosts: &AllowHosts, url: &str) -> bool {
        hosts.check(&Url::parse(url).unwrap(), "test").is_ok()
    }

    #[test]
    fn vercel_previews_are_allowed_by_default_and_nothing_else() {
        let hosts = allow(&[]);
        assert!(ok(&hosts, "https://app-git-x-team.vercel.app"));
        assert!(ok(&hosts, "https://APP.Vercel.App:8443/x"));
        for bad in [
            "https://vercel.app",
            "https://evil-vercel.app",
            "https://x.vercel.app.evil.com",
            "http://127.0.0.1:3000",
            "https://preview.example.com",
        ] {
            assert!(!ok(&hosts, bad), "{bad}");
        }
        let err = hosts
            .check(&Url::parse("https://evil.example").unwrap(), "a deployment")
            .unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Config);
        assert!(
            err.message.contains("--allow-host evil.example"),
            "{}",
            err.message
        );
    }

    #[test]
    fn patterns_match_hosts_subdomains_and_ports() {
        let hosts = allow(&[
            "*.preview.example.com",
            "127.0.0.1",
            "localhost:3000",
            "[::1]:8080",
        ]);
        assert!(ok(&hosts, "https://pr-12.preview.example.com"));
        assert!(ok(&hosts, "https://a.b.preview.example.com"));
        assert!(!ok(&hosts, "https://preview.example.com"));
        assert!(ok(&hosts, "http://127.0.0.1:1234"));
        assert!(ok(&hosts, "http://localhost:3000"));
        assert!(!ok(&hosts, "http://localhost:3001"));
        assert!(ok(&hosts, "http://[::1]:8080"));
        assert!(!ok(&hosts, "http://[::1]:8081"));
    }

    #[test]
    fn malformed_patterns_name_the_flag() {
        for bad in ["*", "a*b.com", "host:port", "[::1", "", "*."] {
            let parsed = parse(bad);
            assert!(parsed.is_err(), "{bad:?} parsed as {parsed:?}");
        }
        assert!(
            parse("bad host")
                .unwrap_err()
                .message
                .contains("--allow-host")
        );
    }
}
