//! The claims of a GitHub Actions OIDC token, typed.
//!
//! GitHub sends every id as a JSON *string* (`"repository_id": "123"`), so they are
//! `Option<String>` here: a number where a string belongs makes the token malformed instead of
//! being coerced. Registered claims are parsed loosely first (`RawClaims`) so the verifier can
//! tell "`aud` is a list" or "`exp` is a string" apart from "the JSON is broken", and name the
//! check that failed. Their deserializer is written out (helpers in `github/raw.rs`) because it runs
//! on every request: GitHub always sends the claims in the same order, so each name is found
//! with one comparison instead of a search through every field name.

use std::fmt;

use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::raw::{FieldSet, Key};

macro_rules! github_claims {
    ($($(#[$doc:meta])* $field:ident = $name:literal,)*) => {
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
        #[derive(Default)]
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

        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        enum Field { iss, aud, exp, iat, nbf, $( $field, )* }

        /// Every claim name the structs have (checked against [`FIELDS`] in a test).
        #[cfg(test)]
        const CLAIM_NAMES: &[&str] = &["iss", "aud", "exp", "iat", "nbf", $( $name, )*];

        impl<'de> Deserialize<'de> for RawClaims {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ClaimsVisitor;
                impl<'de> Visitor<'de> for ClaimsVisitor {
                    type Value = RawClaims;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JWT claims object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
                        let mut raw = RawClaims::default();
                        let mut seen = FieldSet::default();
                        while let Some(key) = map.next_key::<Key<'de>>()? {
                            let Some(i) = seen.find(FIELDS, key.as_str()) else {
                                map.next_value::<IgnoredAny>()?;
                                continue;
                            };
                            if !seen.insert(i) {
                                return Err(A::Error::duplicate_field(FIELDS[i].0));
                            }
                            match FIELDS[i].1 {
                                Field::iss => raw.iss = map.next_value()?,
                                Field::aud => raw.aud = map.next_value()?,
                                Field::exp => raw.exp = map.next_value()?,
                                Field::iat => raw.iat = map.next_value()?,
                                Field::nbf => raw.nbf = map.next_value()?,
                                $( Field::$field => raw.$field = map.next_value()?, )*
                            }
                        }
                        Ok(raw)
                    }
                }
                deserializer.deserialize_map(ClaimsVisitor)
            }
        }
    };
}

github_claims! {
    /// Unique token id (replay protection).
    jti = "jti",
    /// Subject, e.g. `repo:octo-org/octo-repo:pull_request`.
    sub = "sub",
    /// Deployment environment of the job, when it has one.
    environment = "environment",
    /// Git ref of the run, e.g. `refs/pull/12/merge` or `refs/heads/main`.
    r#ref = "ref",
    /// Commit SHA of the run.
    sha = "sha",
    /// `owner/name`.
    repository = "repository",
    /// Numeric id of the repository, as a string.
    repository_id = "repository_id",
    /// Owner login.
    repository_owner = "repository_owner",
    /// Numeric id of the owner, as a string.
    repository_owner_id = "repository_owner_id",
    /// `public`, `private` or `internal`.
    repository_visibility = "repository_visibility",
    /// Login of the user who started the run.
    actor = "actor",
    /// Numeric id of that user, as a string.
    actor_id = "actor_id",
    /// Workflow name.
    workflow = "workflow",
    /// `owner/repo/.github/workflows/file.yml@ref` of the top-level workflow.
    workflow_ref = "workflow_ref",
    /// Commit SHA of the workflow file.
    workflow_sha = "workflow_sha",
    /// `owner/repo/.github/workflows/file.yml@ref` of the (possibly reusable) job workflow.
    job_workflow_ref = "job_workflow_ref",
    /// Commit SHA of the job workflow file.
    job_workflow_sha = "job_workflow_sha",
    /// Event that started the run, e.g. `pull_request`.
    event_name = "event_name",
    /// Source branch of a pull request.
    head_ref = "head_ref",
    /// Target branch of a pull request.
    base_ref = "base_ref",
    /// `branch` or `tag`.
    ref_type = "ref_type",
    /// `"true"` when the ref is protected.
    ref_protected = "ref_protected",
    /// Run id, as a string.
    run_id = "run_id",
    /// Run number, as a string.
    run_number = "run_number",
    /// Run attempt, as a string.
    run_attempt = "run_attempt",
    /// `github-hosted` or `self-hosted`.
    runner_environment = "runner_environment",
    /// Enterprise slug, for repositories in an enterprise.
    enterprise = "enterprise",
    /// Enterprise id, as a string.
    enterprise_id = "enterprise_id",
    /// Check run id, as a string.
    check_run_id = "check_run_id",
}

/// Claim names in the order GitHub sends them, and the field each one fills. The order only
/// makes the lookup fast; any order parses the same.
const FIELDS: &[(&str, Field)] = &[
    ("jti", Field::jti),
    ("sub", Field::sub),
    ("environment", Field::environment),
    ("aud", Field::aud),
    ("ref", Field::r#ref),
    ("sha", Field::sha),
    ("repository", Field::repository),
    ("repository_owner", Field::repository_owner),
    ("repository_owner_id", Field::repository_owner_id),
    ("run_id", Field::run_id),
    ("run_number", Field::run_number),
    ("run_attempt", Field::run_attempt),
    ("repository_visibility", Field::repository_visibility),
    ("repository_id", Field::repository_id),
    ("actor_id", Field::actor_id),
    ("actor", Field::actor),
    ("workflow", Field::workflow),
    ("head_ref", Field::head_ref),
    ("base_ref", Field::base_ref),
    ("event_name", Field::event_name),
    ("ref_protected", Field::ref_protected),
    ("ref_type", Field::ref_type),
    ("workflow_ref", Field::workflow_ref),
    ("workflow_sha", Field::workflow_sha),
    ("job_workflow_ref", Field::job_workflow_ref),
    ("job_workflow_sha", Field::job_workflow_sha),
    ("runner_environment", Field::runner_environment),
    ("enterprise", Field::enterprise),
    ("enterprise_id", Field::enterprise_id),
    ("check_run_id", Field::check_run_id),
    ("iss", Field::iss),
    ("nbf", Field::nbf),
    ("exp", Field::exp),
    ("iat", Field::iat),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cover_every_claim_once() {
        let mut names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let mut expected = CLAIM_NAMES.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
        assert!(FIELDS.len() <= 64, "FieldSet is a u64");
    }

    #[test]
    fn parses_in_any_order_and_refuses_duplicates() {
        let a: RawClaims =
            serde_json::from_str(r#"{"iat":1,"sha":"s","x":[1],"ref":"r","iss":"i"}"#).unwrap();
        assert_eq!(
            (a.sha.as_deref(), a.r#ref.as_deref(), a.iss.as_deref()),
            (Some("s"), Some("r"), Some("i"))
        );
        assert_eq!(a.iat, Some(Value::from(1)));
        let escaped: RawClaims = serde_json::from_str(r#"{"re\u0066":"r"}"#).unwrap();
        assert_eq!(escaped.r#ref.as_deref(), Some("r"));
        assert!(serde_json::from_str::<RawClaims>(r#"{"sha":"a","sha":"b"}"#).is_err());
        assert!(serde_json::from_str::<RawClaims>(r#"{"sha":1}"#).is_err());
        assert!(
            serde_json::from_str::<RawClaims>(r#"{"sha":null}"#)
                .unwrap()
                .sha
                .is_none()
        );
        assert!(serde_json::from_str::<RawClaims>(r#"["sha"]"#).is_err());
    }
}
