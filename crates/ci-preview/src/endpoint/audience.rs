//! Which audience `call`, `smoke` and `flags` may mint an endpoint token for when health names
//! it. Health is pull-request code: it may only name the endpoint being called
//! (`https://HOST/api/~/ci/<endpoint>`, nothing more), on the preview's own host or a host the
//! user allowed (`--allow-host`); anything else could get a token the preview replays elsewhere.

use crate::error::{CliError, Result};
use crate::hosts::AllowHosts;
use crate::preview::{CI_PREFIX, Preview};
use crate::untrusted;

/// Health may only name the endpoint itself: `https://ORIGIN/api/~/ci/ENDPOINT`, nothing more.
pub(crate) fn check_audience(endpoint: &str, audience: &str) -> Result<()> {
    let endpoint = endpoint.trim_matches('/');
    let expected_path = format!("{CI_PREFIX}/{endpoint}");
    let fits = url::Url::parse(audience).is_ok_and(|url| {
        url.scheme() == "https"
            && url.as_str() == audience
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.path() == expected_path
    });
    if fits {
        return Ok(());
    }
    Err(CliError::check(format!(
        "refusing to mint a token for the audience {} that the preview's health announces for \
         {endpoint}: an endpoint's audience must be an https URL whose path is exactly \
         {expected_path}. Pin the audience the endpoint's policy expects with --audience \
         (CI_PREVIEW_AUDIENCE)",
        untrusted::text(audience)
    )))
}
/// Health may only name a host the client trusts: the preview's own, or an `--allow-host`
/// pattern. Any other host's endpoint would get a token the preview can replay there.
pub(crate) fn check_audience_host(
    preview: &Preview,
    allowed: &AllowHosts,
    audience: &str,
) -> Result<()> {
    let Ok(url) = url::Url::parse(audience) else {
        return Err(CliError::check("the announced audience is not a URL"));
    };
    let own = url.host() == preview.base().host()
        && url.port_or_known_default() == preview.base().port_or_known_default();
    if own || allowed.allows(&url) {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    Err(CliError::check(format!(
        "refusing to mint a token for the audience {} that the preview's health announces: its \
         host is neither the preview's ({}) nor an allowed host, and a token for another host's \
         endpoint could be replayed there. If {} really serves this endpoint's audience (a \
         stable domain named in the policy), pin it with --audience (CI_PREVIEW_AUDIENCE) or \
         allow the host with --allow-host {}",
        untrusted::text(audience),
        preview.origin(),
        untrusted::text(host),
        untrusted::text(host),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::HostArgs;

    /// The review's finding: health could name `https://other-app.example/api/~/ci/<endpoint>`
    /// and get a token for that app posted to itself.
    #[test]
    fn an_announced_audience_must_be_on_the_previews_host_or_an_allowed_one() {
        let guard = std::sync::Arc::new(crate::protection::Guard::None);
        let preview = Preview::new("https://app-git-x.vercel.app", guard).unwrap();
        let given = |patterns: &[&str]| {
            AllowHosts::given(&HostArgs {
                allow_hosts: patterns.iter().map(|p| (*p).to_owned()).collect(),
                ..HostArgs::default()
            })
            .unwrap()
        };
        let path = "/api/~/ci/flags/encrypt-override";
        let ok = |allowed: &AllowHosts, host: &str| {
            check_audience_host(&preview, allowed, &format!("https://{host}{path}")).is_ok()
        };
        assert!(ok(&given(&[]), "app-git-x.vercel.app"));
        for other in [
            "other-app.example",
            "other-app.vercel.app",
            "app-git-x.vercel.app:8443",
        ] {
            assert!(!ok(&given(&[]), other), "{other}");
        }
        let err = check_audience_host(
            &preview,
            &given(&[]),
            &format!("https://other-app.example{path}"),
        )
        .unwrap_err();
        assert!(
            err.message.contains("--allow-host other-app.example"),
            "{}",
            err.message
        );
        assert!(err.message.contains("--audience"), "{}", err.message);
        let stable = given(&["app.example.com"]);
        assert!(ok(&stable, "app.example.com"));
        assert!(!ok(&stable, "other-app.example"));
    }

    #[test]
    fn only_the_endpoints_own_audience_is_minted_from_health() {
        let endpoint = "flags/encrypt-override";
        for good in [
            "https://v0.app/api/~/ci/flags/encrypt-override",
            "https://preview-x.vercel.app:8443/api/~/ci/flags/encrypt-override",
        ] {
            assert!(check_audience(endpoint, good).is_ok(), "{good}");
        }
        for bad in [
            "sts.amazonaws.com",
            "https://github.com/octo-org",
            "api://AzureADTokenExchange",
            "http://v0.app/api/~/ci/flags/encrypt-override",
            "https://v0.app/api/~/ci/flags/other",
            "https://v0.app/api/~/ci/flags/encrypt-override/x",
            "https://v0.app/api/~/ci/flags/encrypt-override?x=1",
            "https://v0.app/api/~/ci/flags/../flags/encrypt-override",
            "https://u@v0.app/api/~/ci/flags/encrypt-override",
            "HTTPS://V0.APP/api/~/ci/flags/encrypt-override",
        ] {
            let err = check_audience(endpoint, bad).unwrap_err();
            assert!(err.message.contains("--audience"), "{bad}: {}", err.message);
        }
    }
}
