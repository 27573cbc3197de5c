//! The claims of a GitHub Actions OIDC token, typed.
//!
//! GitHub sends every id as a JSON *string* (`"repository_id": "123"`), so they are
//! `Option<String>` here: a number where a string belongs makes the token malformed instead of
//! being coerced. Registered claims are parsed loosely first ([`RawClaims`]) so the verifier can
//! tell "`aud` is a list" or "`exp` is a string" apart from "the JSON is broken", and name the
//! check that failed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! github_claims {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// The verified claims of a GitHub Actions token.
        ///
        /// `iss`, `aud`, `exp` and `iat` are always present once verified; GitHub's own claims
        /// are optional because the verifier only requires those a policy check reads.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct GitHubClaims {
            /// Issuer, equal to the configured issuer URL.
            pub iss: String,
            /// The one audience, equal to the endpoint's.
            pub aud: String,
            /// Expiry, seconds since the epoch.
            pub exp: i64,
            /// Issued at, seconds since the epoch.
            pub iat: i64,
            /// Not before, seconds since the epoch.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub nbf: Option<i64>,
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
        }

        /// Claims as sent, before the registered claims are checked.
        #[derive(Deserialize)]
        pub(crate) struct RawClaims {
            pub(crate) iss: Option<String>,
            pub(crate) aud: Option<Value>,
            pub(crate) exp: Option<Value>,
            pub(crate) iat: Option<Value>,
            pub(crate) nbf: Option<Value>,
            $( pub(crate) $field: Option<String>, )*
        }

        impl RawClaims {
            /// Completes the typed claims once `iss`, `aud` and the times are checked.
            pub(crate) fn into_claims(self, iss: String, aud: String, exp: i64, iat: i64, nbf: Option<i64>) -> GitHubClaims {
                GitHubClaims { iss, aud, exp, iat, nbf, $( $field: self.$field, )* }
            }
        }
    };
}

github_claims! {
    /// Unique token id (replay protection).
    jti,
    /// Subject, e.g. `repo:octo-org/octo-repo:pull_request`.
    sub,
    /// Deployment environment of the job, when it has one.
    environment,
    /// Git ref of the run, e.g. `refs/pull/12/merge` or `refs/heads/main`.
    r#ref,
    /// Commit SHA of the run.
    sha,
    /// `owner/name`.
    repository,
    /// Numeric id of the repository, as a string.
    repository_id,
    /// Owner login.
    repository_owner,
    /// Numeric id of the owner, as a string.
    repository_owner_id,
    /// `public`, `private` or `internal`.
    repository_visibility,
    /// Login of the user who started the run.
    actor,
    /// Numeric id of that user, as a string.
    actor_id,
    /// Workflow name.
    workflow,
    /// `owner/repo/.github/workflows/file.yml@ref` of the top-level workflow.
    workflow_ref,
    /// Commit SHA of the workflow file.
    workflow_sha,
    /// `owner/repo/.github/workflows/file.yml@ref` of the (possibly reusable) job workflow.
    job_workflow_ref,
    /// Commit SHA of the job workflow file.
    job_workflow_sha,
    /// Event that started the run, e.g. `pull_request`.
    event_name,
    /// Source branch of a pull request.
    head_ref,
    /// Target branch of a pull request.
    base_ref,
    /// `branch` or `tag`.
    ref_type,
    /// `"true"` when the ref is protected.
    ref_protected,
    /// Run id, as a string.
    run_id,
    /// Run number, as a string.
    run_number,
    /// Run attempt, as a string.
    run_attempt,
    /// `github-hosted` or `self-hosted`.
    runner_environment,
    /// Enterprise slug, for repositories in an enterprise.
    enterprise,
    /// Enterprise id, as a string.
    enterprise_id,
    /// Check run id, as a string.
    check_run_id,
}
