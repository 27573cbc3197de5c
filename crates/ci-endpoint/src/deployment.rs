//! Which deployment this server runs in, from the variables the platform sets (`CONTRACT.md` §6).
//! The environment decides whether CI routes exist at all; the identity (commit, ref, pull
//! request) is reported by health so a client knows it reached the preview of its own head commit.

use serde::Serialize;

/// The deployment, as read from the environment once at start-up. Tests build it directly
/// instead of mutating the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// `CI_PREVIEW_ENV`, else `VERCEL_ENV` (`preview`, `development`, `production`, …).
    pub environment: Option<String>,
    /// `VERCEL_GIT_COMMIT_SHA`.
    pub commit: Option<String>,
    /// `VERCEL_GIT_COMMIT_REF` (a branch name).
    pub git_ref: Option<String>,
    /// `VERCEL_GIT_PULL_REQUEST_ID`.
    pub pull_request: Option<String>,
}

impl Deployment {
    /// The variables this reads, for documentation and `--help`.
    pub const VARIABLES: [&'static str; 5] = [
        "CI_PREVIEW_ENV",
        "VERCEL_ENV",
        "VERCEL_GIT_COMMIT_SHA",
        "VERCEL_GIT_COMMIT_REF",
        "VERCEL_GIT_PULL_REQUEST_ID",
    ];

    /// Reads the process environment.
    pub fn from_env() -> Deployment {
        Deployment::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a map in tests). An empty value counts as unset:
    /// Vercel sets `VERCEL_GIT_PULL_REQUEST_ID=""` on deployments without a pull request, and an
    /// empty `CI_PREVIEW_ENV` must not hide `VERCEL_ENV`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Deployment {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        Deployment {
            environment: get("CI_PREVIEW_ENV").or_else(|| get("VERCEL_ENV")),
            commit: get("VERCEL_GIT_COMMIT_SHA"),
            git_ref: get("VERCEL_GIT_COMMIT_REF"),
            pull_request: get("VERCEL_GIT_PULL_REQUEST_ID"),
        }
    }

    /// A deployment in `environment` with no git identity (tests, local runs).
    pub fn in_environment(environment: impl Into<String>) -> Deployment {
        Deployment {
            environment: Some(environment.into()),
            ..Deployment::default()
        }
    }

    /// Whether CI routes are served here: only when the environment is set and listed, compared
    /// exactly. Unset, unknown and production (never listable, see `Policy`) all fail closed.
    pub fn is_served(&self, serve_in: &[String]) -> bool {
        self.environment
            .as_deref()
            .is_some_and(|environment| serve_in.iter().any(|allowed| allowed == environment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Deployment {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Deployment::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn ci_preview_env_wins_over_vercel_env() {
        let d = from(&[("CI_PREVIEW_ENV", "development"), ("VERCEL_ENV", "preview")]);
        assert_eq!(d.environment.as_deref(), Some("development"));
        let d = from(&[("CI_PREVIEW_ENV", ""), ("VERCEL_ENV", "preview")]);
        assert_eq!(d.environment.as_deref(), Some("preview"));
    }

    #[test]
    fn identity_and_empty_values() {
        let d = from(&[
            ("VERCEL_ENV", "preview"),
            ("VERCEL_GIT_COMMIT_SHA", "abc123"),
            ("VERCEL_GIT_COMMIT_REF", "feature/x"),
            ("VERCEL_GIT_PULL_REQUEST_ID", ""),
        ]);
        assert_eq!(d.commit.as_deref(), Some("abc123"));
        assert_eq!(d.git_ref.as_deref(), Some("feature/x"));
        assert_eq!(d.pull_request, None);
    }

    #[test]
    fn served_only_when_listed_exactly() {
        let serve_in = vec!["preview".to_owned(), "development".to_owned()];
        assert!(Deployment::in_environment("preview").is_served(&serve_in));
        assert!(Deployment::in_environment("development").is_served(&serve_in));
        for env in ["production", "Preview", "staging", " preview"] {
            assert!(
                !Deployment::in_environment(env).is_served(&serve_in),
                "{env}"
            );
        }
        assert!(!Deployment::default().is_served(&serve_in));
        assert!(!from(&[]).is_served(&serve_in));
    }
}
