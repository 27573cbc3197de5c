//! The environment and identity rules of `Deployment::from_lookup`, one platform at a time.

use super::*;
use std::collections::HashMap;

fn from(vars: &[(&str, &str)]) -> Deployment {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Deployment::from_lookup(|name| map.get(name).cloned())
}

fn serve_in() -> Vec<String> {
    vec!["preview".to_owned(), "development".to_owned()]
}

#[test]
fn ci_preview_env_names_the_environment_where_the_platform_names_none() {
    let d = from(&[("CI_PREVIEW_ENV", "preview")]);
    assert_eq!(d.environment.as_deref(), Some("preview"));
    assert!(d.warnings.is_empty());
    let d = from(&[("CI_PREVIEW_ENV", ""), ("VERCEL_ENV", "preview")]);
    assert_eq!(d.environment.as_deref(), Some("preview"));
}

#[test]
fn vercel_production_wins_over_ci_preview_env() {
    for vars in [
        &[("VERCEL_ENV", "production"), ("CI_PREVIEW_ENV", "preview")][..],
        &[
            ("VERCEL_ENV", "preview"),
            ("VERCEL_TARGET_ENV", "production"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
        &[
            ("VERCEL_TARGET_ENV", "production"),
            ("CI_PREVIEW_ENV", "development"),
        ],
        &[("VERCEL_ENV", "Production"), ("CI_PREVIEW_ENV", "preview")],
    ] {
        let d = from(vars);
        assert_eq!(d.environment.as_deref(), Some("production"), "{vars:?}");
        assert!(!d.is_served(&serve_in()), "{vars:?}");
        assert_eq!(d.warnings.len(), 1, "{vars:?}");
        assert!(
            d.warnings[0].contains("production signal always wins"),
            "{d:?}"
        );
    }
    // Agreeing variables: production, and nothing to warn about.
    let d = from(&[("VERCEL_ENV", "production")]);
    assert_eq!(d.environment.as_deref(), Some("production"));
    assert!(d.warnings.is_empty());
}

#[test]
fn a_vercel_custom_environment_is_matched_by_its_own_name() {
    let d = from(&[("VERCEL_ENV", "preview"), ("VERCEL_TARGET_ENV", "staging")]);
    assert_eq!(d.environment.as_deref(), Some("staging"));
    assert!(!d.is_served(&serve_in()));
    assert!(d.is_served(&["staging".to_owned()]));
    // CI_PREVIEW_ENV set for "all environments" does not relabel it, and says so.
    let d = from(&[
        ("VERCEL_ENV", "preview"),
        ("VERCEL_TARGET_ENV", "staging"),
        ("CI_PREVIEW_ENV", "preview"),
    ]);
    assert_eq!(d.environment.as_deref(), Some("staging"));
    assert!(!d.is_served(&serve_in()));
    assert!(!d.is_served(&["staging".to_owned()]));
    assert!(d.is_served(&["staging".to_owned(), "preview".to_owned()]));
    assert!(d.warnings[0].contains("VERCEL_TARGET_ENV"), "{d:?}");
    // It can still switch a preview off.
    let d = from(&[("VERCEL_ENV", "preview"), ("CI_PREVIEW_ENV", "off")]);
    assert_eq!(d.environment.as_deref(), Some("preview"));
    assert!(!d.is_served(&serve_in()));
    // A plain preview still is one.
    let d = from(&[("VERCEL_ENV", "preview"), ("VERCEL_TARGET_ENV", "preview")]);
    assert!(d.is_served(&serve_in()));
}

#[test]
fn render_and_railway_production_signals_win() {
    for vars in [
        &[
            ("RENDER", "true"),
            ("IS_PULL_REQUEST", "false"),
            ("CI_PREVIEW_ENV", "preview"),
        ][..],
        &[("RENDER", "true"), ("CI_PREVIEW_ENV", "preview")],
        &[
            ("RAILWAY_ENVIRONMENT_NAME", "production"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
        &[("CI_PREVIEW_ENV", "production")],
    ] {
        let d = from(vars);
        assert_eq!(d.environment.as_deref(), Some("production"), "{vars:?}");
        assert!(!d.is_served(&serve_in()), "{vars:?}");
    }
    let d = from(&[
        ("RENDER", "true"),
        ("IS_PULL_REQUEST", "true"),
        ("CI_PREVIEW_ENV", "preview"),
    ]);
    assert!(d.is_served(&serve_in()));
    // Render's previews are `preview` by the platform's own word, CI_PREVIEW_ENV or not.
    let d = from(&[("RENDER", "true"), ("IS_PULL_REQUEST", "true")]);
    assert_eq!(d.environment.as_deref(), Some("preview"));
    assert!(d.is_served(&serve_in()));
}

/// The review's finding: PLATFORMS.md had `CI_PREVIEW_ENV=preview` set on Railway's production
/// (copied into every environment forked from it), and only the literal `production` was
/// refused, so a `staging` fork or a production renamed `prod` served CI routes.
#[test]
fn railway_is_matched_by_its_own_environment_name() {
    for name in ["staging", "prod", "Production-EU", "preview-2"] {
        let d = from(&[
            ("RAILWAY_ENVIRONMENT_NAME", name),
            ("RAILWAY_PROJECT_ID", "p"),
            ("CI_PREVIEW_ENV", "preview"),
        ]);
        assert_eq!(d.environment.as_deref(), Some(name));
        assert!(!d.is_served(&serve_in()), "{name} is served");
        assert!(!d.is_served(&["preview".to_owned(), "app-pr-{pr}".to_owned()]));
    }
    // PR environments: listed by pattern, and CI_PREVIEW_ENV no longer needed.
    let pr_envs = vec!["app-pr-{pr}".to_owned()];
    let d = from(&[("RAILWAY_ENVIRONMENT_NAME", "app-pr-12")]);
    assert!(d.is_served(&pr_envs));
    assert!(!d.is_served(&serve_in()));
    for other in [
        "app-pr-",
        "app-pr-12x",
        "app-pr-012",
        "app-pr-staging",
        "xapp-pr-1",
    ] {
        let d = from(&[("RAILWAY_ENVIRONMENT_NAME", other)]);
        assert!(!d.is_served(&pr_envs), "{other}");
    }
    // A leftover CI_PREVIEW_ENV=preview must also be listed (it narrows, never widens).
    let d = from(&[
        ("RAILWAY_ENVIRONMENT_NAME", "app-pr-12"),
        ("CI_PREVIEW_ENV", "preview"),
    ]);
    assert!(!d.is_served(&pr_envs));
    assert!(d.is_served(&["app-pr-{pr}".to_owned(), "preview".to_owned()]));
}

#[test]
fn a_platform_that_does_not_name_its_environment_fails_closed() {
    for vars in [
        &[("VERCEL", "1"), ("CI_PREVIEW_ENV", "preview")][..],
        &[
            ("VERCEL_URL", "x.vercel.app"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
        &[("RAILWAY_PROJECT_ID", "p"), ("CI_PREVIEW_ENV", "preview")],
        &[
            ("RAILWAY_ENVIRONMENT_ID", "e"),
            ("CI_PREVIEW_ENV", "preview"),
        ],
    ] {
        let d = from(vars);
        assert_eq!(d.environment, None, "{vars:?}");
        assert!(!d.is_served(&serve_in()), "{vars:?}");
        assert!(d.warnings[0].contains("does not name"), "{d:?}");
    }
    // Render without IS_PULL_REQUEST=true, however it identifies itself, is production.
    for vars in [
        &[
            ("RENDER_SERVICE_ID", "srv-1"),
            ("CI_PREVIEW_ENV", "preview"),
        ][..],
        &[("RENDER", "1"), ("CI_PREVIEW_ENV", "preview")],
    ] {
        assert_eq!(from(vars).environment.as_deref(), Some("production"));
    }
}

#[test]
fn pr_patterns_match_only_a_pull_request_number() {
    assert!(environment_matches("app-pr-{pr}", "app-pr-1"));
    assert!(environment_matches("app-pr-{pr}", "app-pr-123456789"));
    assert!(environment_matches("pr-{pr}-web", "pr-7-web"));
    for name in [
        "app-pr-0",
        "app-pr-1234567890",
        "app-pr--1",
        "app-pr-1 ",
        "App-pr-1",
    ] {
        assert!(!environment_matches("app-pr-{pr}", name), "{name}");
    }
    assert!(environment_matches("preview", "preview"));
    assert!(!environment_matches("preview", "preview-1"));
}

#[test]
fn served_only_when_listed_exactly() {
    assert!(Deployment::in_environment("preview").is_served(&serve_in()));
    assert!(Deployment::in_environment("development").is_served(&serve_in()));
    for env in ["production", "Preview", "staging", " preview"] {
        assert!(
            !Deployment::in_environment(env).is_served(&serve_in()),
            "{env}"
        );
    }
    // Even a policy that somehow listed it cannot serve production.
    assert!(!Deployment::in_environment("production").is_served(&["production".to_owned()]));
    assert!(!Deployment::default().is_served(&serve_in()));
    assert!(!from(&[]).is_served(&serve_in()));
}

#[test]
fn vercel_identity_and_empty_values() {
    let d = from(&[
        ("VERCEL_ENV", "preview"),
        ("VERCEL_GIT_COMMIT_SHA", "abc123"),
        ("VERCEL_GIT_COMMIT_REF", "feature/x"),
        ("VERCEL_GIT_PULL_REQUEST_ID", ""),
        ("VERCEL_GIT_REPO_OWNER", "octo-org"),
        ("VERCEL_GIT_REPO_SLUG", "octo-repo"),
        ("VERCEL_GIT_REPO_ID", "123456789"),
    ]);
    assert_eq!(d.commit.as_deref(), Some("abc123"));
    assert_eq!(d.git_ref.as_deref(), Some("feature/x"));
    assert_eq!(d.pull_request, None);
    assert_eq!(d.repository.as_deref(), Some("octo-org/octo-repo"));
    assert_eq!(d.repository_id.as_deref(), Some("123456789"));
}

#[test]
fn platform_neutral_identity_variables() {
    let d = from(&[
        ("CI_PREVIEW_ENV", "preview"),
        (
            "CI_PREVIEW_COMMIT_SHA",
            "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        ),
        ("CI_PREVIEW_COMMIT_REF", "feature/x"),
        ("CI_PREVIEW_PULL_REQUEST", "12"),
        ("CI_PREVIEW_REPOSITORY", "octo-org/octo-repo"),
        ("CI_PREVIEW_REPOSITORY_ID", "123456789"),
    ]);
    assert_eq!(
        d,
        Deployment {
            environment: Some("preview".into()),
            commit: Some("e83c5163316f89bfbde7d9ab23ca2e25604af290".into()),
            git_ref: Some("feature/x".into()),
            pull_request: Some("12".into()),
            repository: Some("octo-org/octo-repo".into()),
            repository_id: Some("123456789".into()),
            also_required: None,
            warnings: Vec::new(),
        }
    );
    // Render and Railway name the commit, branch and repository themselves.
    let d = from(&[
        ("RENDER_GIT_COMMIT", "abc"),
        ("RENDER_GIT_BRANCH", "feature/r"),
        ("RENDER_GIT_REPO_SLUG", "octo-org/octo-repo"),
    ]);
    assert_eq!(
        (
            d.commit.as_deref(),
            d.git_ref.as_deref(),
            d.repository.as_deref()
        ),
        (Some("abc"), Some("feature/r"), Some("octo-org/octo-repo"))
    );
    let d = from(&[
        ("RAILWAY_GIT_COMMIT_SHA", "def"),
        ("RAILWAY_GIT_BRANCH", "feature/w"),
        ("RAILWAY_GIT_REPO_OWNER", "octo-org"),
        ("RAILWAY_GIT_REPO_NAME", "octo-repo"),
    ]);
    assert_eq!(
        (
            d.commit.as_deref(),
            d.git_ref.as_deref(),
            d.repository.as_deref()
        ),
        (Some("def"), Some("feature/w"), Some("octo-org/octo-repo"))
    );
}

#[test]
fn the_platforms_identity_wins_over_a_neutral_variable_and_says_so() {
    let d = from(&[
        ("VERCEL_GIT_PULL_REQUEST_ID", "12"),
        ("CI_PREVIEW_PULL_REQUEST", "13"),
        ("VERCEL_GIT_REPO_OWNER", "octo-org"),
        ("VERCEL_GIT_REPO_SLUG", "octo-repo"),
        ("CI_PREVIEW_REPOSITORY", "octo-org/octo-repo"),
    ]);
    assert_eq!(d.pull_request.as_deref(), Some("12"));
    assert_eq!(d.warnings.len(), 1, "{d:?}");
    assert!(d.warnings[0].contains("CI_PREVIEW_PULL_REQUEST=\"13\" is ignored"));
}
