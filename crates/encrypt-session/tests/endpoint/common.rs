//! Set-up shared by this crate's endpoint tests: `ci_fixtures::TestApp` around the endpoint
//! (the real kit, a mock issuer, the policy's `cookie_max_age` at [`CAP`]) and the Node half of
//! the live Auth.js check.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use ci_endpoint::server::StartupError;
use ci_fixtures::{MockIssuer, TestApp, TestAppBuilder};
use encrypt_session::{CookieNames, SECRET_VAR};

pub(crate) const SECRET: &str = "q2Gd4vNfT0hF0m2Y1nTxyQ8y7Wl0a1r0l2YwZWQK9y5f";
/// The policy's `cookie_max_age` in these tests.
pub(crate) const CAP: u64 = 900;
/// The endpoint's settings in these tests: test users `u1` and `u2`, Auth.js's profile claims and
/// `pad` (the cookie-size tests' filler).
pub(crate) const CONFIG: &str = r#"
[endpoints."auth/encrypt-session".config]
subjects = ["u1", "u2"]
caller_claims = ["name", "email", "picture", "pad"]
"#;

/// The app in `environment`, with `AUTH_SECRET` set to `secret` (or unset) and the app's URL
/// (`AUTH_URL`) set to `auth_url` (or unset).
pub(crate) async fn app(
    environment: &str,
    secret: Option<&str>,
    auth_url: Option<&str>,
) -> TestApp {
    builder(environment, secret, auth_url).start().await
}

/// The router, or the start-up error.
pub(crate) fn build(
    issuer: &MockIssuer,
    environment: &str,
    secret: Option<&str>,
    auth_url: Option<&str>,
) -> Result<Router, StartupError> {
    builder(environment, secret, auth_url).router_for(issuer)
}

fn builder(environment: &str, secret: Option<&str>, auth_url: Option<&str>) -> TestAppBuilder {
    builder_with(
        environment,
        secret,
        auth_url,
        &format!("cookie_max_age = {CAP}\n{CONFIG}"),
    )
}

/// [`builder`] with the entry's keys (and the tables after it) given as `keys`.
pub(crate) fn builder_with(
    environment: &str,
    secret: Option<&str>,
    auth_url: Option<&str>,
    keys: &str,
) -> TestAppBuilder {
    let names = CookieNames::from_app_url(auth_url).expect("a valid AUTH_URL");
    let app = TestApp::builder(encrypt_session::endpoint_with(names))
        .environment(Some(environment))
        .policy_keys(keys);
    match secret {
        Some(secret) => app.var(SECRET_VAR, secret),
        None => app,
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The folder with `@auth/core` installed, or `None` (skip) unless the check is required.
pub(crate) fn authjs_dir() -> Option<PathBuf> {
    match std::env::var_os("CI_PREVIEW_AUTHJS_CHECK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI_PREVIEW_REQUIRE_AUTHJS").as_deref() == Ok("1") => panic!(
            "CI_PREVIEW_REQUIRE_AUTHJS=1 but CI_PREVIEW_AUTHJS_CHECK_DIR is not set: run \
             `D=$(mktemp -d) && npm install --prefix $D @auth/core@0.41.3` and export \
             CI_PREVIEW_AUTHJS_CHECK_DIR=$D"
        ),
        None => {
            eprintln!(
                "skipped: the Auth.js round trip needs CI_PREVIEW_AUTHJS_CHECK_DIR (a folder with \
                 `npm install @auth/core@0.41.3`)"
            );
            None
        }
    }
}

/// Runs `interop/authjs-check.mjs` with [`SECRET`]; `Ok(stdout)` or `Err(stderr)` on refusal.
pub(crate) fn authjs(dir: &Path, args: &[&str]) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/authjs-check.mjs");
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .env("AUTHJS_DIR", dir)
        .env("AUTH_SECRET", SECRET)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (needed for the Auth.js round trip): {e}"));
    if out.status.success() {
        Ok(String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
