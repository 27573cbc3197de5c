//! Test fixtures shared by every crate's tests: a mock GitHub Actions OIDC issuer with a
//! GitHub-shaped token builder, RSA test keys, a mock GitHub API, a mock of Vercel's Deployment
//! Protection to put in front of a test preview, an emulated Vercel function host, the in-process
//! app harness ([`TestApp`]), the server as a child process ([`ServerProcess`]) and the log
//! [`Capture`].
//!
//! Test-only: the keys here are test material and must never reach a shipped binary, so the
//! crates that ship take this one as a `[dev-dependencies]` entry; only `xtask` (the smoke and
//! e2e runs, never shipped) has it as a normal dependency. Everything binds 127.0.0.1.

// The full GitHub JSON shapes of the mock API are large `json!` literals.
#![recursion_limit = "512"]

mod app;
mod capture;
pub mod forward;
pub mod github;
mod https;
pub mod issuer;
pub mod keys;
pub mod protection;
pub mod redis;
mod request;
mod run;
mod server;
pub mod token;
pub mod vercel;

pub use app::{
    Answer, TestApp, TestAppBuilder, assert_answer, send, static_verifier, test_audience,
};
pub use capture::{AUDIT_CLAIM_FIELDS, Capture};
pub use github::{ApiFault, Mint, MockGitHub};
pub use https::HttpsFront;
pub use issuer::{JwksFault, MockIssuer};
pub use keys::{RsaScheme, TestKey};
pub use protection::{DeploymentProtection, VercelEdge};
pub use request::{EndpointRequest, get_http, post_http};
pub use run::Run;
pub use server::{NotReady, READY_PREFIX, READY_TIMEOUT, ServerProcess, Stopped};
pub use token::{Alg, TokenBuilder};

/// `repository` of default tokens.
pub const DEFAULT_REPOSITORY: &str = "octo-org/octo-repo";
/// `repository_owner` of default tokens.
pub const DEFAULT_OWNER: &str = "octo-org";
/// `repository_id` of default tokens.
pub const DEFAULT_REPOSITORY_ID: &str = "123456789";
/// `repository_owner_id` of default tokens.
pub const DEFAULT_OWNER_ID: &str = "987654321";
/// The workflow of default tokens, in policy-entry form (no `@ref`).
pub const DEFAULT_WORKFLOW: &str = "octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml";
/// `sha` (and `workflow_sha`) of default tokens.
pub const DEFAULT_SHA: &str = "e83c5163316f89bfbde7d9ab23ca2e25604af290";
/// Pull request number of default tokens (`ref` = `refs/pull/12/merge`).
pub const DEFAULT_PULL_REQUEST: u64 = 12;

/// A `ci-policy.toml` trusting `issuer_url` with one endpoint `name` for `audience` that
/// allows [`DEFAULT_REPOSITORY`] running [`DEFAULT_WORKFLOW`].
pub fn policy_toml(issuer_url: &str, name: &str, audience: &str) -> String {
    format!(
        "[issuer]\nurl = {issuer_url:?}\n\n{}",
        policy_entry(name, audience)
    )
}

/// The `[endpoints."name"]` table of [`policy_toml`].
pub fn policy_entry(name: &str, audience: &str) -> String {
    format!(
        "[endpoints.{name:?}]\naudience = {audience:?}\nrepositories = [{DEFAULT_REPOSITORY:?}]\nrepository_owner_ids = [{DEFAULT_OWNER_ID:?}]\nworkflows = [{DEFAULT_WORKFLOW:?}]\n"
    )
}
