//! Deployment binding (`bind_deployment = true`): a token is accepted only by the preview of its
//! own repository's and its own run's pull request or branch.
//!
//! Why: the audience names the endpoint, not the deployment, so without binding a token sent to
//! PR A's preview (which runs PR A's code, and so may keep what it receives) is also good at PR
//! B's preview for the rest of its lifetime. Binding ties the token's repository and git ref to
//! the deployment's. The repository matters when a policy allows several: PR 12 of repository A
//! is not PR 12 of repository B ([`RepositoryBinding`]).
//!
//! The repository rule: the deployment's repository id (`CI_PREVIEW_REPOSITORY_ID`,
//! `VERCEL_GIT_REPO_ID`) must equal the token's `repository_id`, and its `owner/name`
//! (`CI_PREVIEW_REPOSITORY`, `VERCEL_GIT_REPO_OWNER`/`VERCEL_GIT_REPO_SLUG`) the token's
//! `repository` (ASCII case-insensitive, as GitHub names are), for each that the deployment knows.
//! A deployment that knows neither refuses every token (fail closed).
//!
//! The ref rule, from the variables the platform sets on the deployment:
//!
//! 1. The deployment knows its pull request (`VERCEL_GIT_PULL_REQUEST_ID`): the token's `ref` must
//!    be `refs/pull/<id>/merge`, the ref of a `pull_request` run of that PR.
//! 2. Else it knows its branch (`VERCEL_GIT_COMMIT_REF`): the token's `head_ref` (a pull request
//!    from that branch) or its `ref` minus `refs/heads/` (a push to it) must equal the branch.
//! 3. Else it knows neither and refuses every token: fail closed.
//!
//! Everything is compared exactly (no prefix, no case folding: git refs are case-sensitive), and
//! an empty claim never matches. The check is a pure function of the deployment and the claims.

use ci_oidc::GitHubClaims;

use crate::Deployment;

/// What a deployment binds tokens to, worked out once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeploymentBinding {
    /// The deployment of pull request `number`: the token's `ref` must be `expected_ref`.
    PullRequest {
        number: String,
        expected_ref: String,
    },
    /// The deployment of `branch` (no pull request known).
    Branch { branch: String },
    /// The pull request id is set but is not a number: a misconfigured platform. Refuses all.
    InvalidPullRequest { value: String },
    /// Neither a pull request nor a branch is known. Refuses all.
    Unknown,
}

/// Why a token is not for this deployment: the check, what the deployment expected and what the
/// token carried, for the log. Claim values only; never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BindingMismatch {
    pub(crate) check: &'static str,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

impl DeploymentBinding {
    /// The binding of `deployment`. Blank values count as unknown.
    pub(crate) fn of(deployment: &Deployment) -> DeploymentBinding {
        if let Some(number) = known(&deployment.pull_request) {
            if !number.bytes().all(|b| b.is_ascii_digit()) {
                return DeploymentBinding::InvalidPullRequest { value: number };
            }
            let expected_ref = format!("refs/pull/{number}/merge");
            return DeploymentBinding::PullRequest {
                number,
                expected_ref,
            };
        }
        match known(&deployment.git_ref) {
            Some(branch) => DeploymentBinding::Branch { branch },
            None => DeploymentBinding::Unknown,
        }
    }

    /// Whether this binding can accept any token at all (false: every call will be refused).
    pub(crate) fn can_accept(&self) -> bool {
        matches!(
            self,
            DeploymentBinding::PullRequest { .. } | DeploymentBinding::Branch { .. }
        )
    }

    /// Checks verified `claims` against the binding.
    pub(crate) fn check(&self, claims: &GitHubClaims) -> Result<(), BindingMismatch> {
        let token_ref = claims.r#ref.as_deref().unwrap_or("");
        match self {
            DeploymentBinding::PullRequest {
                number,
                expected_ref,
            } => {
                if !token_ref.is_empty() && token_ref == expected_ref {
                    return Ok(());
                }
                Err(BindingMismatch {
                    check: "ref",
                    expected: format!("{expected_ref:?} (pull request #{number})"),
                    actual: quoted(claims.r#ref.as_deref()),
                })
            }
            DeploymentBinding::Branch { branch } => {
                let head_ref = claims.head_ref.as_deref().unwrap_or("");
                let pushed = token_ref.strip_prefix("refs/heads/").unwrap_or("");
                if (!head_ref.is_empty() && head_ref == branch)
                    || (!pushed.is_empty() && pushed == branch)
                {
                    return Ok(());
                }
                Err(BindingMismatch {
                    check: "head_ref|ref",
                    expected: format!("head_ref {branch:?} or ref \"refs/heads/{branch}\""),
                    actual: format!(
                        "head_ref {}, ref {}",
                        quoted(claims.head_ref.as_deref()),
                        quoted(claims.r#ref.as_deref())
                    ),
                })
            }
            DeploymentBinding::InvalidPullRequest { value } => Err(BindingMismatch {
                check: "deployment",
                expected: "a numeric VERCEL_GIT_PULL_REQUEST_ID".to_owned(),
                actual: format!("{value:?}"),
            }),
            DeploymentBinding::Unknown => Err(BindingMismatch {
                check: "deployment",
                expected: "VERCEL_GIT_PULL_REQUEST_ID or VERCEL_GIT_COMMIT_REF set".to_owned(),
                actual: "neither is set (fail closed)".to_owned(),
            }),
        }
    }
}

/// What a deployment knows of its repository, worked out once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepositoryBinding {
    /// `owner/name`, if the deployment knows it.
    pub(crate) name: Option<String>,
    /// The numeric repository id, if the deployment knows it.
    pub(crate) id: Option<String>,
}

impl RepositoryBinding {
    /// The repository binding of `deployment`. Blank values count as unknown.
    pub(crate) fn of(deployment: &Deployment) -> RepositoryBinding {
        RepositoryBinding {
            name: known(&deployment.repository),
            id: known(&deployment.repository_id),
        }
    }

    /// Whether this binding can accept any token at all.
    pub(crate) fn can_accept(&self) -> bool {
        self.name.is_some() || self.id.is_some()
    }

    /// Checks verified `claims` against the repository the deployment knows.
    pub(crate) fn check(&self, claims: &GitHubClaims) -> Result<(), BindingMismatch> {
        if !self.can_accept() {
            return Err(BindingMismatch {
                check: "deployment",
                expected: "CI_PREVIEW_REPOSITORY or CI_PREVIEW_REPOSITORY_ID (on Vercel \
                           VERCEL_GIT_REPO_OWNER/VERCEL_GIT_REPO_SLUG or VERCEL_GIT_REPO_ID) set"
                    .to_owned(),
                actual: "neither is set (fail closed)".to_owned(),
            });
        }
        if let Some(id) = &self.id {
            let actual = claims.repository_id.as_deref().unwrap_or("");
            if actual.is_empty() || actual != id {
                return Err(BindingMismatch {
                    check: "repository_id",
                    expected: format!("{id:?} (this deployment's repository)"),
                    actual: quoted(claims.repository_id.as_deref()),
                });
            }
        }
        if let Some(name) = &self.name {
            let actual = claims.repository.as_deref().unwrap_or("");
            if actual.is_empty() || !actual.eq_ignore_ascii_case(name) {
                return Err(BindingMismatch {
                    check: "repository",
                    expected: format!("{name:?} (this deployment's repository)"),
                    actual: quoted(claims.repository.as_deref()),
                });
            }
        }
        Ok(())
    }
}

/// The binding rule as one pure function: `Ok` when `claims` may be used on `deployment`
/// (its repository first, then its pull request or branch). The guards hold the two bindings
/// apart (built once per endpoint); the tests state the rule through this.
#[cfg(test)]
pub(crate) fn check_deployment_binding(
    deployment: &Deployment,
    claims: &GitHubClaims,
) -> Result<(), BindingMismatch> {
    RepositoryBinding::of(deployment).check(claims)?;
    DeploymentBinding::of(deployment).check(claims)
}

fn quoted(value: Option<&str>) -> String {
    value.map_or_else(|| "(missing)".to_owned(), |v| format!("{v:?}"))
}

/// A deployment value, trimmed; blank counts as unknown.
fn known(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
