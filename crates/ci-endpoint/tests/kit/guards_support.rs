//! Set-up shared by the per-endpoint guard tests (`single_use`, `bind_deployment`, Redis): the echo
//! app of `common` built with a chosen deployment, policy switches and replay store, and a log
//! capture so refusals can be checked for their logged reason (and for never logging a token).

#![allow(dead_code, unused_imports)]

use ci_endpoint::server::{Deployment, Policy, replay::ReplayStore};
pub(crate) use ci_fixtures::Capture;
use ci_fixtures::{MockIssuer, TestApp, TestAppBuilder};

use crate::common::{echo_app, policy_toml};

/// A deployment of PR 12 from branch `feature/preview-smoke` (the default token's `head_ref`).
pub(crate) fn pr_deployment(pull_request: Option<&str>, branch: Option<&str>) -> Deployment {
    Deployment {
        environment: Some("preview".to_owned()),
        commit: Some("e83c5163316f89bfbde7d9ab23ca2e25604af290".to_owned()),
        git_ref: branch.map(str::to_owned),
        pull_request: pull_request.map(str::to_owned),
        repository: Some(ci_fixtures::DEFAULT_REPOSITORY.to_owned()),
        repository_id: Some(ci_fixtures::DEFAULT_REPOSITORY_ID.to_owned()),
        ..Deployment::default()
    }
}

/// The echo policy with extra endpoint keys appended (`"single_use = true\n"`).
pub(crate) fn policy_with(issuer: &MockIssuer, extra: &str) -> Policy {
    Policy::from_toml_str(&format!("{}{extra}", policy_toml(issuer))).expect("policy is valid")
}

/// The echo app with `extra` policy keys, `deployment` and, if given, `store`.
pub(crate) async fn guarded_app(
    extra: &str,
    deployment: Deployment,
    store: Option<ReplayStore>,
) -> TestApp {
    guarded(extra, deployment, store).start().await
}

/// [`guarded_app`]'s builder, for apps that share one issuer (`router_for`).
pub(crate) fn guarded(
    extra: &str,
    deployment: Deployment,
    store: Option<ReplayStore>,
) -> TestAppBuilder {
    let mut app = echo_app(deployment, true).policy_keys(extra);
    if let Some(store) = store {
        app = app.replay_store(store);
    }
    app
}
