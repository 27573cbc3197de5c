//! Which deployment this server runs in, from the variables the platform sets. The environment
//! decides whether CI routes exist at all; the identity (repository, commit, ref, pull request)
//! is reported by health so a client knows it reached the preview of its own head commit, and is
//! what `bind_deployment` ties tokens to.
//!
//! Three rules make this safe on any platform (the table of variables is
//! `system-docs/PLATFORMS.md`):
//!
//! 1. **A platform's production signal always wins.** `CI_PREVIEW_ENV` is an ordinary project
//!    variable, easy to set for "all environments" on a dashboard, so it can never turn a
//!    production deployment into a served one. `VERCEL_ENV=production`,
//!    `VERCEL_TARGET_ENV=production`, `RAILWAY_ENVIRONMENT_NAME=production`, Render with
//!    `IS_PULL_REQUEST` not `true`, or `CI_PREVIEW_ENV=production` each make the environment
//!    `production` (never servable). Why not refuse to start instead: 404 on every CI route is
//!    already the fail-closed outcome, while a refusal would turn a stray variable into a broken
//!    production deployment; the disagreement is logged at ERROR level at start-up instead.
//! 2. **The name the platform gives is what `serve_in` sees.** A Vercel custom environment
//!    (`staging`) runs with `VERCEL_ENV=preview` and its own name in `VERCEL_TARGET_ENV`; it is
//!    `staging`, not `preview`. Railway's environment is `RAILWAY_ENVIRONMENT_NAME` the same way:
//!    a `staging` forked from production, or a production renamed `prod`, is not in
//!    `serve_in = ["preview"]` whatever variables it inherited, and PR environments are listed
//!    with the `{pr}` pattern (`app-pr-{pr}`, see [`environment_matches`]). Render names only its
//!    pull request previews and preview environments (`IS_PULL_REQUEST=true`): they are
//!    `preview`. `CI_PREVIEW_ENV` names the environment where no platform identifies itself
//!    (Fly.io, Kubernetes, a container). Where both name it and disagree, CI routes are served
//!    only if both names are in `serve_in`: the project variable can narrow, never widen.
//! 3. **A platform that identifies itself without naming its environment fails closed.**
//!    `VERCEL=1` without `VERCEL_ENV`/`VERCEL_TARGET_ENV`, or a Railway deployment without
//!    `RAILWAY_ENVIRONMENT_NAME`, has an unknown environment (every CI route 404, logged at
//!    ERROR), and `CI_PREVIEW_ENV` cannot fill the gap: the platform's name is missing, not
//!    unknown to it.
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
    /// The environment `serve_in` is matched against (rules 1 to 3 of the module doc).
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
    pub const VARIABLES: [&'static str; 33] = [
        "CI_PREVIEW_ENV",
        "CI_PREVIEW_COMMIT_SHA",
        "CI_PREVIEW_COMMIT_REF",
        "CI_PREVIEW_PULL_REQUEST",
        "CI_PREVIEW_REPOSITORY",
        "CI_PREVIEW_REPOSITORY_ID",
        "VERCEL",
        "VERCEL_ENV",
        "VERCEL_TARGET_ENV",
        "VERCEL_URL",
        "VERCEL_DEPLOYMENT_ID",
        "VERCEL_GIT_COMMIT_SHA",
        "VERCEL_GIT_COMMIT_REF",
        "VERCEL_GIT_PULL_REQUEST_ID",
        "VERCEL_GIT_REPO_OWNER",
        "VERCEL_GIT_REPO_SLUG",
        "VERCEL_GIT_REPO_ID",
        "RENDER",
        "RENDER_SERVICE_ID",
        "IS_PULL_REQUEST",
        "RENDER_GIT_COMMIT",
        "RENDER_GIT_BRANCH",
        "RENDER_GIT_REPO_SLUG",
        "RAILWAY_ENVIRONMENT_NAME",
        "RAILWAY_ENVIRONMENT",
        "RAILWAY_ENVIRONMENT_ID",
        "RAILWAY_PROJECT_ID",
        "RAILWAY_SERVICE_ID",
        "RAILWAY_DEPLOYMENT_ID",
        "RAILWAY_GIT_COMMIT_SHA",
        "RAILWAY_GIT_BRANCH",
        "RAILWAY_GIT_REPO_OWNER",
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

    /// Whether CI routes are served here: only when the environment is set and listed (exactly,
    /// or by a `{pr}` pattern: [`environment_matches`]). Unset, unknown and production (never
    /// listable, see `Policy`) all fail closed.
    pub fn is_served(&self, serve_in: &[String]) -> bool {
        let listed = |name: &str| {
            !name.eq_ignore_ascii_case(PRODUCTION)
                && serve_in
                    .iter()
                    .any(|allowed| environment_matches(allowed, name))
        };
        self.environment.as_deref().is_some_and(listed)
            && self.also_required.as_deref().is_none_or(listed)
    }
}

/// The environment name a platform gives, and which variable gave it.
struct PlatformName {
    source: &'static str,
    name: String,
}

/// Rules 1 to 3 of the module doc: the environment, and `CI_PREVIEW_ENV` when it must also be
/// listed. Pushes a warning for every disagreement.
fn environment(
    get: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> (Option<String>, Option<String>) {
    let project = get("CI_PREVIEW_ENV");
    let signals = production_signals(get);
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
    let platform = match platform_name(get) {
        Ok(platform) => platform,
        Err(unnamed) => {
            warnings.push(format!(
                "{unnamed}: the platform identifies itself but does not name this deployment's \
                 environment, so it is unknown and every CI route answers 404 (CI_PREVIEW_ENV \
                 cannot name it on a platform that names its own environments)"
            ));
            return (None, None);
        }
    };
    match (platform, project) {
        (Some(PlatformName { source, name }), Some(project)) if project != name => {
            warnings.push(format!(
                "CI_PREVIEW_ENV={project:?} disagrees with the platform, which names this \
                 environment {name:?} ({source}): CI routes are served only if both are listed \
                 in serve_in"
            ));
            (Some(name), Some(project))
        }
        (Some(PlatformName { name, .. }), _) => (Some(name), None),
        (None, project) => (project, None),
    }
}

/// Rule 1: every variable that says "production", named for the log line.
fn production_signals(get: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    let is_production = |name: &str| {
        get(name)
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(PRODUCTION))
    };
    let mut signals: Vec<String> = [
        "VERCEL_ENV",
        "VERCEL_TARGET_ENV",
        "RAILWAY_ENVIRONMENT_NAME",
        "RAILWAY_ENVIRONMENT",
        "CI_PREVIEW_ENV",
    ]
    .into_iter()
    .filter(|name| is_production(name))
    .map(|name| format!("{name}=production"))
    .collect();
    // Render sets IS_PULL_REQUEST=true on pull request previews and preview environments, and
    // "false" everywhere else; anything but "true" on Render is treated as production.
    if is_render(get) {
        let pull_request = get("IS_PULL_REQUEST");
        if pull_request.as_deref() != Some("true") {
            signals.push(format!(
                "RENDER with IS_PULL_REQUEST={}",
                pull_request.as_deref().unwrap_or("(unset)")
            ));
        }
    }
    signals
}

/// Rule 2: the name the platform gives this environment (`Ok(None)`: no platform identified
/// itself), or `Err` naming the variables of a platform that identified itself without one.
fn platform_name(get: &impl Fn(&str) -> Option<String>) -> Result<Option<PlatformName>, String> {
    let named = |source: &'static str| get(source).map(|name| PlatformName { source, name });
    let any_set = |names: &[&'static str]| -> Option<&'static str> {
        names.iter().copied().find(|name| get(name).is_some())
    };
    if let Some(vercel) = any_set(VERCEL_MARKERS) {
        return named("VERCEL_TARGET_ENV")
            .or_else(|| named("VERCEL_ENV"))
            .map(Some)
            .ok_or_else(|| format!("{vercel} is set without VERCEL_ENV or VERCEL_TARGET_ENV"));
    }
    if let Some(railway) = any_set(RAILWAY_MARKERS) {
        return named("RAILWAY_ENVIRONMENT_NAME")
            .or_else(|| named("RAILWAY_ENVIRONMENT"))
            .map(Some)
            .ok_or_else(|| format!("{railway} is set without RAILWAY_ENVIRONMENT_NAME"));
    }
    if is_render(get) {
        // Only IS_PULL_REQUEST=true gets here (anything else is production): Render's pull
        // request previews and preview environments, which it names no further.
        return Ok(Some(PlatformName {
            source: "IS_PULL_REQUEST=true on Render",
            name: RENDER_PREVIEW.to_owned(),
        }));
    }
    Ok(None)
}

/// What `serve_in` sees on a Render pull request preview or preview environment.
const RENDER_PREVIEW: &str = "preview";

/// Variables only Vercel sets: any of them means "this is Vercel", which names its environment.
const VERCEL_MARKERS: &[&str] = &[
    "VERCEL",
    "VERCEL_ENV",
    "VERCEL_TARGET_ENV",
    "VERCEL_URL",
    "VERCEL_DEPLOYMENT_ID",
];
/// Variables only Railway sets.
const RAILWAY_MARKERS: &[&str] = &[
    "RAILWAY_ENVIRONMENT_NAME",
    "RAILWAY_ENVIRONMENT",
    "RAILWAY_ENVIRONMENT_ID",
    "RAILWAY_PROJECT_ID",
    "RAILWAY_SERVICE_ID",
    "RAILWAY_DEPLOYMENT_ID",
];

/// Whether Render runs this: `RENDER` (Render sets `true`) or its service id.
fn is_render(get: &impl Fn(&str) -> Option<String>) -> bool {
    get("RENDER").is_some() || get("RENDER_SERVICE_ID").is_some()
}

/// Whether `name` matches one `serve_in` entry: exactly, or with `{pr}` standing for a pull
/// request number (1 to 9 ASCII digits, no leading zero), so `app-pr-{pr}` matches `app-pr-12`
/// and nothing else that starts with `app-pr-`.
pub(crate) fn environment_matches(pattern: &str, name: &str) -> bool {
    let Some((before, after)) = pattern.split_once(PR_PLACEHOLDER) else {
        return pattern == name;
    };
    let Some(number) = name
        .strip_prefix(before)
        .and_then(|rest| rest.strip_suffix(after))
    else {
        return false;
    };
    (1..=9).contains(&number.len())
        && !number.starts_with('0')
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The placeholder of [`environment_matches`].
pub(crate) const PR_PLACEHOLDER: &str = "{pr}";

#[cfg(test)]
mod tests;
