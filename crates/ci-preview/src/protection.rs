//! How requests get past the preview's Deployment Protection: a short-lived OIDC token (Vercel's
//! Trusted Sources), the long-lived bypass secret, or nothing.
//!
//! The bypass secret opens every protected preview of the project for as long as it lives, so the
//! pattern prefers Trusted Sources: the job mints a GitHub OIDC token for the *protection* audience
//! and sends it in `x-vercel-trusted-oidc-idp-token`; Vercel checks it against the project's rule
//! (issuer, audience, `repository_id`, `workflow_ref`...). CI then holds no secret at all.
//!
//! The protection audience must differ from every endpoint's audience: a token minted to pass the
//! edge must never be accepted by an endpoint, nor an endpoint's token by the edge. Protection
//! tokens are reused for [`REFRESH_AFTER`] so a fifteen-minute wait does not mint hundreds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use crate::error::{CliError, Result};
use crate::minter::{MintError, Minter};
use crate::secret::Secret;
use crate::{actions, env};

/// The header Vercel's Protection Bypass for Automation reads.
pub(crate) const BYPASS_HEADER: &str = "x-vercel-protection-bypass";
/// The header Vercel's Trusted Sources read.
pub(crate) const OIDC_HEADER: &str = "x-vercel-trusted-oidc-idp-token";
/// A protection token is minted again once it is this old (GitHub's tokens live about 5 minutes).
pub(crate) const REFRESH_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// The bypass secret when one is set, else OIDC when the job can mint tokens, else nothing.
    Auto,
    /// A fresh GitHub OIDC token in x-vercel-trusted-oidc-idp-token (Vercel Trusted Sources).
    Oidc,
    /// The Protection Bypass for Automation secret in x-vercel-protection-bypass.
    Bypass,
    /// No protection header (the preview is not protected).
    None,
}

/// Deployment Protection, shared by every subcommand that talks to the preview.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProtectionArgs {
    /// How to pass Deployment Protection: auto, oidc, bypass or none.
    #[arg(
        long,
        env = env::CI_PREVIEW_PROTECTION,
        value_enum,
        default_value_t = Mode::Auto,
        value_name = "MODE"
    )]
    pub protection: Mode,
    /// Audience of the protection token: what the project's Trusted Sources rule expects
    /// [default: https://github.com/<owner>, Vercel's GitHub Actions template]. Must differ from
    /// every endpoint's audience.
    #[arg(long, env = env::CI_PREVIEW_PROTECTION_AUDIENCE, value_name = "AUD")]
    pub protection_audience: Option<String>,
    /// Vercel "Protection Bypass for Automation" secret, sent as x-vercel-protection-bypass
    /// (also read from VERCEL_AUTOMATION_BYPASS_SECRET).
    #[arg(
        long = "protection-bypass",
        env = env::DEPLOYMENT_PROTECTION_BYPASS,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub bypass: Option<Secret>,
    /// Vercel's own name for the bypass secret.
    #[arg(
        long = "vercel-automation-bypass-secret",
        env = env::VERCEL_AUTOMATION_BYPASS_SECRET,
        hide = true,
        hide_env_values = true
    )]
    pub vercel_bypass: Option<Secret>,
    /// The repository owner, for the default protection audience (set by the runner).
    #[arg(
        long = "protection-owner",
        env = env::GITHUB_REPOSITORY_OWNER,
        hide = true
    )]
    pub protection_owner: Option<String>,
    /// The repository, whose owner is the fallback for the default protection audience.
    #[arg(long = "protection-repository", env = env::GITHUB_REPOSITORY, hide = true)]
    pub protection_repository: Option<String>,
}

/// What goes with every request to the preview.
#[derive(Debug)]
pub(crate) enum Guard {
    None,
    Bypass(Secret),
    Oidc(OidcGuard),
}

#[derive(Debug)]
pub(crate) struct OidcGuard {
    minter: Minter,
    audience: String,
    /// The audience is GitHub's default `https://github.com/<owner>` (not given).
    default_audience: bool,
    /// `auto`: nothing is sent until the preview answers like Vercel's protection.
    on_demand: bool,
    armed: AtomicBool,
    cached: Mutex<Option<(Instant, Secret)>>,
}

impl ProtectionArgs {
    /// The guard for `--protection`; `minter` is `None` when the job cannot mint tokens.
    pub(crate) fn guard(&self, minter: Option<&Minter>) -> Result<Guard> {
        let bypass = [&self.bypass, &self.vercel_bypass]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .cloned();
        match (self.protection, bypass, minter) {
            (Mode::None, _, _) => Ok(Guard::None),
            (Mode::Bypass | Mode::Auto, Some(secret), _) => Ok(Guard::Bypass(secret)),
            (Mode::Bypass, None, _) => Err(CliError::missing_var(
                env::DEPLOYMENT_PROTECTION_BYPASS,
                "--protection bypass needs the project's \"Protection Bypass for Automation\" secret \
                 (DEPLOYMENT_PROTECTION_BYPASS or VERCEL_AUTOMATION_BYPASS_SECRET), or use \
                 --protection oidc with a Trusted Sources rule",
            )),
            (mode @ (Mode::Oidc | Mode::Auto), _, Some(minter)) => {
                let guard = OidcGuard {
                    minter: minter.clone(),
                    audience: self.audience()?,
                    default_audience: self.protection_audience.is_none(),
                    on_demand: mode == Mode::Auto,
                    armed: AtomicBool::new(false),
                    cached: Mutex::new(None),
                };
                if !guard.on_demand {
                    guard.warn_if_default_audience();
                }
                Ok(Guard::Oidc(guard))
            }
            (Mode::Oidc, _, None) => Err(CliError::config(
                "--protection oidc needs an OIDC token: add `permissions: id-token: write` to the job",
            )),
            (Mode::Auto, None, None) => Ok(Guard::None),
        }
    }

    fn audience(&self) -> Result<String> {
        if let Some(audience) = self.protection_audience.as_deref().map(str::trim) {
            if audience.is_empty() {
                return Err(CliError::config("--protection-audience must not be empty"));
            }
            return Ok(audience.to_owned());
        }
        let owner = self
            .protection_owner
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .or_else(|| {
                self.protection_repository
                    .as_deref()
                    .and_then(|r| r.trim().split_once('/'))
                    .map(|(owner, _)| owner)
            })
            .filter(|o| o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or_else(|| {
                CliError::config(
                    "cannot tell the protection audience: set --protection-audience \
                     (CI_PREVIEW_PROTECTION_AUDIENCE) to the audience of the project's Trusted \
                     Sources rule, or run inside GitHub Actions (GITHUB_REPOSITORY_OWNER)",
                )
            })?;
        Ok(format!("https://github.com/{owner}"))
    }
}

impl Guard {
    /// The protection audience, in OIDC mode.
    pub(crate) fn oidc_audience(&self) -> Option<&str> {
        match self {
            Self::Oidc(guard) => Some(&guard.audience),
            _ => None,
        }
    }

    /// The protection header for one request, marked sensitive so no debug output shows it.
    pub(crate) async fn headers(&self) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        match self {
            Self::None => {}
            Self::Bypass(secret) => {
                headers.insert(BYPASS_HEADER, sensitive(secret, BYPASS_FIX)?);
            }
            Self::Oidc(guard) if guard.on_demand && !guard.armed.load(Ordering::SeqCst) => {}
            Self::Oidc(guard) => {
                let token = guard.token().await?;
                headers.insert(
                    OIDC_HEADER,
                    sensitive(&token, "the minted token is not a header value")?,
                );
            }
        }
        Ok(headers)
    }
}

const BYPASS_FIX: &str = "the bypass secret contains characters a header cannot carry: copy it \
     again from the project's Deployment Protection settings";

fn sensitive(secret: &Secret, fix: &str) -> Result<HeaderValue> {
    let mut value =
        HeaderValue::from_str(secret.expose().trim()).map_err(|_| CliError::config(fix))?;
    value.set_sensitive(true);
    Ok(value)
}

impl Guard {
    /// Under `--protection auto`, the protection token goes only to a preview that asked for it:
    /// the first answer that looks like Vercel's Deployment Protection (401, or a redirect to a
    /// `vercel.com` login) arms it. True when this answer just armed it: send the request again.
    pub(crate) fn arm_after(&self, status: u16, location: Option<&str>) -> bool {
        let Self::Oidc(guard) = self else {
            return false;
        };
        if !guard.on_demand || guard.armed.load(Ordering::SeqCst) {
            return false;
        }
        let to_login = (300..400).contains(&status) && location.is_some_and(is_vercel_login);
        if status != 401 && !to_login {
            return false;
        }
        if guard.armed.swap(true, Ordering::SeqCst) {
            return false;
        }
        actions::progress(
            "the preview answered like Vercel's Deployment Protection: sending a Trusted Sources \
             token (x-vercel-trusted-oidc-idp-token) from now on",
        );
        guard.warn_if_default_audience();
        true
    }

    /// Whether a request carries the protection token (or secret) now.
    pub(crate) fn sends_credentials(&self) -> bool {
        match self {
            Self::None => false,
            Self::Bypass(_) => true,
            Self::Oidc(guard) => !guard.on_demand || guard.armed.load(Ordering::SeqCst),
        }
    }
}

/// `https://vercel.com/…` (or a subdomain): where Vercel's protection sends a browser to log in.
fn is_vercel_login(location: &str) -> bool {
    url::Url::parse(location).is_ok_and(|url| {
        url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h == "vercel.com" || h.ends_with(".vercel.com"))
    })
}

impl OidcGuard {
    /// GitHub's default audience is accepted by every relying party that trusts the owner's
    /// tokens with it (Vault roles, other projects' rules): say so, once per guard.
    fn warn_if_default_audience(&self) {
        if self.default_audience {
            actions::warning(&format!(
                "the protection token's audience is GitHub's default {}, which other relying \
                 parties (Vault roles, other projects' Trusted Sources rules) may accept too: give \
                 the project's Trusted Sources rule an audience only it accepts (e.g. \
                 https://vercel.com/TEAM/PROJECT/trusted-sources) and pass it with \
                 --protection-audience (CI_PREVIEW_PROTECTION_AUDIENCE, or the action's \
                 protection-audience input)",
                self.audience
            ));
        }
    }

    async fn token(&self) -> Result<Secret> {
        if let Ok(cached) = self.cached.lock()
            && let Some((at, token)) = cached.as_ref()
            && at.elapsed() < REFRESH_AFTER
        {
            return Ok(token.clone());
        }
        let token = match self.minter.mint(&self.audience).await {
            Ok(token) => token,
            Err(MintError::Transient(why)) => {
                return Err(CliError::check(format!(
                    "could not mint the protection token: {why}"
                )));
            }
            Err(MintError::Fatal(err)) => return Err(err),
        };
        actions::mask(token.expose());
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), token.clone()));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mode: Mode) -> ProtectionArgs {
        ProtectionArgs {
            protection: mode,
            protection_audience: None,
            bypass: None,
            vercel_bypass: None,
            protection_owner: Some("octo-org".into()),
            protection_repository: None,
        }
    }

    fn minter() -> Minter {
        Minter::for_tests("https://runner/x?a=1")
    }

    #[test]
    fn auto_prefers_the_bypass_then_oidc_then_nothing() {
        let mut with_secret = args(Mode::Auto);
        with_secret.vercel_bypass = Some(Secret::new("s"));
        assert!(matches!(
            with_secret.guard(Some(&minter())),
            Ok(Guard::Bypass(_))
        ));
        let guard = args(Mode::Auto).guard(Some(&minter())).unwrap();
        assert_eq!(guard.oidc_audience(), Some("https://github.com/octo-org"));
        assert!(matches!(args(Mode::Auto).guard(None), Ok(Guard::None)));
    }

    #[test]
    fn explicit_modes_need_what_they_use() {
        assert!(args(Mode::Bypass).guard(Some(&minter())).is_err());
        assert!(args(Mode::Oidc).guard(None).is_err());
        let mut with_secret = args(Mode::Oidc);
        with_secret.bypass = Some(Secret::new("s"));
        assert!(matches!(
            with_secret.guard(Some(&minter())),
            Ok(Guard::Oidc(_))
        ));
        assert!(with_secret.guard(None).is_err());
        with_secret.protection = Mode::None;
        assert!(matches!(
            with_secret.guard(Some(&minter())),
            Ok(Guard::None)
        ));
    }

    #[test]
    fn the_audience_comes_from_the_flag_or_the_owner() {
        let mut a = args(Mode::Oidc);
        a.protection_owner = None;
        a.protection_repository = Some("acme/web".into());
        assert_eq!(a.audience().unwrap(), "https://github.com/acme");
        a.protection_audience = Some("https://vercel.com/acme".into());
        assert_eq!(a.audience().unwrap(), "https://vercel.com/acme");
        a.protection_audience = None;
        a.protection_repository = None;
        assert!(a.audience().is_err());
    }
}
