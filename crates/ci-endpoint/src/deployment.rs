//! Which deployment this server runs in, from the variables the platform sets. The environment
//! decides whether CI routes exist at all; the identity (repository, commit, ref, pull request)
//! is reported by health so a client knows it reached the preview of its own head commit, and is
//! what `bind_deployment` ties tokens to.
//!
//! Two rules make this safe on any platform (the table of variables is `system-docs/PLATFORMS.md`):
//!
//! 1. **A platform's production signal always wins.** `CI_PREVIEW_ENV` is an ordinary project
//!    variable, easy to set for "all environments" on a dashboard, so it can never turn a
//!    production deployment into a served one. `VERCEL_ENV=production`,
//!    `VERCEL_TARGET_ENV=production`, `RAILWAY_ENVIRONMENT_NAME=production`, Render with
//!    `IS_PULL_REQUEST` not `true`, or `CI_PREVIEW_ENV=production` each make the environment
//!    `production` (never servable). Why not refuse to start instead: 404 on every CI route is
//!    already the fail-closed outcome, while a refusal would turn a stray variable into a broken
//!    production deployment; the disagreement is logged at ERROR level at start-up instead.
//! 2. **The most specific name the platform gives is what `serve_in` sees.** A Vercel custom
//!    environment (`staging`) runs with `VERCEL_ENV=preview` and its own name in
//!    `VERCEL_TARGET_ENV`; it is `staging`, not `preview`. `CI_PREVIEW_ENV` names the environment
//!    where the platform names none (Render, Railway PR environments, Fly.io, Kubernetes). Where
//!    both name it and disagree, CI routes are served only if both names are in `serve_in`: the
//!    project variable can still switch a preview off, never a staging environment on.
//!
//! Identity: the platform-neutral `CI_PREVIEW_*` variables, else the platform's own (Vercel's
//! `VERCEL_GIT_*`, Render's `RENDER_GIT_*`, Railway's `RAILWAY_GIT_*`). Where both are set and
//! differ, the platform's value is used and the disagreement is logged: a project variable set for
//! every environment must not re-label a deployment.

use serde::Serialize;

/// The deployment, as read from the environment once at start-up. Tests build it directly
/// instead of mutating the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// The environment `serve_in` is matched against (rule 1 and 2 of the module doc).
    pub environment: Option<String>,
    /// The commit sha (`CI_PREVIEW_COMMIT_SHA`, `VERCEL_GIT_COMMIT_SHA`, …).
    pub commit: Option<String>,
    /// The branch name (`CI_PREVIEW_COMMIT_REF`, `VERCEL_GIT_COMMIT_REF`, …).
    pub git_ref: Option<String>,
    /// The pull request number (`CI_PREVIEW_PULL_REQUEST`, `VERCEL_GIT_PULL_REQUEST_ID`).
    pub pull_request: Option<String>,
    /// `owner/name` of the repository deployed (`CI_PREVIEW_REPOSITORY`,
    /// `VERCEL_GIT_REPO_OWNER`/`VERCEL_GIT_REPO_SLUG`, …).
    pub repository: Option<String>,
    /// The numeric GitHub repository id (`CI_PREVIEW_REPOSITORY_ID`, `VERCEL_GIT_REPO_ID`).
    pub repository_id: Option<String>,
    /// `CI_PREVIEW_ENV` when it disagrees with the platform's own name: it must be listed in
    /// `serve_in` too (it can narrow, never widen).
    pub also_required: Option<String>,
    /// Disagreements between the variables, logged at ERROR level when the app is built.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The environment name of rule 1: never servable (`Policy` refuses it in `serve_in`).
pub(crate) const PRODUCTION: &str = "production";

impl Deployment {
    /// The variables this reads, for documentation and `--help`.
    pub const VARIABLES: [&'static str; 23] = [
        "CI_PREVIEW_ENV",
        "CI_PREVIEW_COMMIT_SHA",
        "CI_PREVIEW_COMMIT_REF",
        "CI_PREVIEW_PULL_REQUEST",
        "CI_PREVIEW_REPOSITORY",
        "CI_PREVIEW_REPOSITORY_ID",
        "VERCEL_ENV",
        "VERCEL_TARGET_ENV",
        "VERCEL_GIT_COMMIT_SHA",
        "VERCEL_GIT_COMMIT_REF",
        "VERCEL_GIT_PULL_REQUEST_ID",
        "VERCEL_GIT_REPO_OWNER",
        "VERCEL_GIT_REPO_SLUG",
        "VERCEL_GIT_REPO_ID",
        "RENDER",
        "IS_PULL_REQUEST",
        "RENDER_GIT_COMMIT",
        "RENDER_GIT_BRANCH",
        "RENDER_GIT_REPO_SLUG",
        "RAILWAY_ENVIRONMENT_NAME",
        "RAILWAY_GIT_COMMIT_SHA",
        "RAILWAY_GIT_BRANCH",
        "RAILWAY_GIT_REPO_NAME",
    ];

    /// Reads the process environment.
    pub fn from_env() -> Deployment {
        Deployment::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a map in tests). An empty value counts as unset:
    /// Vercel sets `VERCEL_GIT_PULL_REQUEST_ID=""` on deployments without a pull request.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Deployment {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let mut warnings = Vec::new();
        let (environment, also_required) = environment(&get, &mut warnings);
        let joined = |owner: &str, name: &str| Some(format!("{}/{}", get(owner)?, get(name)?));
        let mut identity = |key: &str, neutral: &str, platform: Vec<(String, Option<String>)>| {
            let neutral_value = get(neutral);
            let Some((source, value)) = platform
                .into_iter()
                .find_map(|(source, value)| Some((source, value?)))
            else {
                return neutral_value;
            };
            if let Some(neutral_value) = neutral_value.filter(|n| *n != value) {
                warnings.push(format!(
                    "{neutral}={neutral_value:?} is ignored: the platform says {key} is {value:?} \
                     ({source}); the platform's own value wins"
                ));
            }
            Some(value)
        };
        let one = |name: &str| (name.to_owned(), get(name));
        let commit = identity(
            "the commit",
            "CI_PREVIEW_COMMIT_SHA",
            vec![
                one("VERCEL_GIT_COMMIT_SHA"),
                one("RENDER_GIT_COMMIT"),
                one("RAILWAY_GIT_COMMIT_SHA"),
            ],
        );
        let git_ref = identity(
            "the branch",
            "CI_PREVIEW_COMMIT_REF",
            vec![
                one("VERCEL_GIT_COMMIT_REF"),
                one("RENDER_GIT_BRANCH"),
                one("RAILWAY_GIT_BRANCH"),
            ],
        );
        let pull_request = identity(
            "the pull request",
            "CI_PREVIEW_PULL_REQUEST",
            vec![one("VERCEL_GIT_PULL_REQUEST_ID")],
        );
        let repository = identity(
            "the repository",
            "CI_PREVIEW_REPOSITORY",
            vec![
                (
                    "VERCEL_GIT_REPO_OWNER/VERCEL_GIT_REPO_SLUG".to_owned(),
                    joined("VERCEL_GIT_REPO_OWNER", "VERCEL_GIT_REPO_SLUG"),
                ),
                one("RENDER_GIT_REPO_SLUG"),
                (
                    "RAILWAY_GIT_REPO_OWNER/RAILWAY_GIT_REPO_NAME".to_owned(),
                    joined("RAILWAY_GIT_REPO_OWNER", "RAILWAY_GIT_REPO_NAME"),
                ),
            ],
        );
        let repository_id = identity(
            "the repository id",
            "CI_PREVIEW_REPOSITORY_ID",
            vec![one("VERCEL_GIT_REPO_ID")],
        );
        Deployment {
            environment,
            also_required,
            commit,
            git_ref,
            pull_request,
            repository,
            repository_id,
            warnings,
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
        let listed =
            |name: &str| name != PRODUCTION && serve_in.iter().any(|allowed| allowed == name);
        self.environment.as_deref().is_some_and(listed)
            && self.also_required.as_deref().is_none_or(listed)
    }
}

/// Rules 1 and 2 of the module doc: the environment, and `CI_PREVIEW_ENV` when it must also be
/// listed. Pushes a warning for every disagreement.
fn environment(
    get: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> (Option<String>, Option<String>) {
    let project = get("CI_PREVIEW_ENV");
    let is_production = |value: &Option<String>| {
        value
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(PRODUCTION))
    };
    let mut signals = Vec::new();
    for name in [
        "VERCEL_ENV",
        "VERCEL_TARGET_ENV",
        "RAILWAY_ENVIRONMENT_NAME",
        "CI_PREVIEW_ENV",
    ] {
        if is_production(&get(name)) {
            signals.push(format!("{name}=production"));
        }
    }
    // Render sets IS_PULL_REQUEST=true on pull request previews and preview environments, and
    // "false" everywhere else; anything but "true" on Render is treated as production.
    if get("RENDER").as_deref() == Some("true") {
        let pull_request = get("IS_PULL_REQUEST");
        if pull_request.as_deref() != Some("true") {
            signals.push(format!(
                "RENDER=true with IS_PULL_REQUEST={}",
                pull_request.as_deref().unwrap_or("(unset)")
            ));
        }
    }
    if !signals.is_empty() {
        if let Some(project) = project.filter(|p| !p.eq_ignore_ascii_case(PRODUCTION)) {
            warnings.push(format!(
                "CI_PREVIEW_ENV={project:?} is ignored: {} says this deployment is production, and \
                 a platform's production signal always wins: every CI route answers 404. Remove \
                 CI_PREVIEW_ENV from this environment's variables.",
                signals.join(", ")
            ));
        }
        return (Some(PRODUCTION.to_owned()), None);
    }
    let platform = get("VERCEL_TARGET_ENV")
        .map(|name| ("VERCEL_TARGET_ENV", name))
        .or_else(|| get("VERCEL_ENV").map(|name| ("VERCEL_ENV", name)));
    match (platform, project) {
        (Some((source, name)), Some(project)) if project != name => {
            warnings.push(format!(
                "CI_PREVIEW_ENV={project:?} disagrees with the platform, which names this \
                 environment {name:?} ({source}): CI routes are served only if both are listed \
                 in serve_in"
            ));
            (Some(name), Some(project))
        }
        (Some((_, name)), _) => (Some(name), None),
        (None, project) => (project, None),
    }
}

#[cfg(test)]
mod tests;
