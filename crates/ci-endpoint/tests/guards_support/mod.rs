//! Set-up shared by the issue-6 guard tests (`single_use`, `bind_deployment`, Redis): the echo
//! app of `common` built with a chosen deployment, policy switches and replay store, and a log
//! capture so refusals can be checked for their logged reason (and for never logging a token).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use ci_endpoint::{Deployment, Policy, ReplayStore};
use ci_fixtures::MockIssuer;
use tracing_subscriber::fmt::MakeWriter;

use crate::common::{echo_endpoint, echo_options, policy_toml, static_verifier};

/// A deployment of PR 12 from branch `feature/preview-smoke` (the default token's `head_ref`).
pub fn pr_deployment(pull_request: Option<&str>, branch: Option<&str>) -> Deployment {
    Deployment {
        environment: Some("preview".to_owned()),
        commit: Some("e83c5163316f89bfbde7d9ab23ca2e25604af290".to_owned()),
        git_ref: branch.map(str::to_owned),
        pull_request: pull_request.map(str::to_owned),
    }
}

/// The echo policy with extra endpoint keys appended (`"single_use = true\n"`).
pub fn policy_with(issuer: &MockIssuer, extra: &str) -> Policy {
    Policy::from_toml_str(&format!("{}{extra}", policy_toml(issuer))).expect("policy is valid")
}

/// The echo app with `extra` policy keys, `deployment` and, if given, `store`.
pub fn guarded_app(
    issuer: &MockIssuer,
    extra: &str,
    deployment: Deployment,
    store: Option<ReplayStore>,
) -> Router {
    let mut options = echo_options(true);
    if let Some(store) = store {
        options = options.with_replay_store(store);
    }
    ci_endpoint::app_with(
        policy_with(issuer, extra),
        deployment,
        static_verifier(issuer),
        vec![echo_endpoint()],
        options,
    )
    .expect("app builds")
}

/// Everything logged (text format, all levels) while the guard is alive, on this thread.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Starts capturing on the current thread (a `current_thread` test runtime runs every task
    /// here); capture ends when the returned guard drops.
    pub fn start() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
