//! Checks that run after a token's signature and policy have passed and before the handler, for
//! properties the token alone cannot prove: deployment binding (`bind_deployment`, see
//! [`crate::binding`]) and single use (`single_use`, see [`crate::server::replay`]).
//!
//! Order matters: the binding (pure, cheap) first ([`Guards::bind`]), the replay record last
//! ([`Guards::spend`]), so that a token refused for any reason is never recorded and only fully
//! verified tokens can occupy the store. A handler that takes a body ([`crate::VerifiedJson`])
//! has it read, parsed and checked between the two: a request refused for its body leaves its
//! token unspent, so the job can retry with the same token once it fixes the body. The token is
//! spent before the handler runs, so a request that fails in the handler (the upstream, a
//! missing secret) has used it; the client mints a fresh token for every attempt.

use ci_oidc::{EndpointPolicy, GitHubClaims, Verifier, unix_now};

use crate::{
    CiError,
    audit::Refusal,
    binding::{DeploymentBinding, RepositoryBinding},
    deployment::Deployment,
    server::replay::{RETENTION_MARGIN_SECS, Recorded, ReplayKey, ReplayStore},
};

/// The post-verification checks of one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guards {
    binding: Option<(RepositoryBinding, DeploymentBinding)>,
    single_use: Option<SingleUse>,
}

#[derive(Debug, Clone)]
struct SingleUse {
    store: ReplayStore,
    /// Seconds a `jti` is kept beyond `exp`: the verifier's leeway plus a margin, so the record
    /// outlives every moment at which the verifier would still accept the token.
    retention: i64,
}

impl Guards {
    /// The checks `policy` asks for. `store` is used only when the policy sets `single_use`.
    pub(crate) fn for_endpoint(
        name: &str,
        policy: &EndpointPolicy,
        deployment: &Deployment,
        verifier: &Verifier,
        store: &ReplayStore,
    ) -> Guards {
        let binding = policy.bind_deployment.then(|| {
            let repository = RepositoryBinding::of(deployment);
            let binding = DeploymentBinding::of(deployment);
            if !repository.can_accept() {
                tracing::warn!(
                    endpoint = name,
                    "bind_deployment is set but this deployment does not know its repository \
                     (CI_PREVIEW_REPOSITORY / CI_PREVIEW_REPOSITORY_ID, on Vercel \
                     VERCEL_GIT_REPO_OWNER/VERCEL_GIT_REPO_SLUG / VERCEL_GIT_REPO_ID): every call \
                     to this endpoint will be refused"
                );
            }
            if binding.can_accept() {
                tracing::info!(
                    endpoint = name,
                    repository = ?repository,
                    binding = ?binding,
                    "tokens bound to this deployment"
                );
            } else {
                tracing::warn!(
                    endpoint = name,
                    binding = ?binding,
                    "bind_deployment is set but this deployment knows neither its pull request \
                     (CI_PREVIEW_PULL_REQUEST, VERCEL_GIT_PULL_REQUEST_ID) nor its branch \
                     (CI_PREVIEW_COMMIT_REF, VERCEL_GIT_COMMIT_REF): every call to this endpoint \
                     will be refused"
                );
            }
            (repository, binding)
        });
        let single_use = policy.single_use.then(|| {
            tracing::info!(endpoint = name, store = %store.describe(), "single-use tokens");
            SingleUse {
                store: store.clone(),
                retention: verifier
                    .rules()
                    .leeway
                    .max(0)
                    .saturating_add(RETENTION_MARGIN_SECS),
            }
        });
        Guards {
            binding,
            single_use,
        }
    }

    /// The deployment binding of a verified caller (pure: nothing is recorded). A refusal comes
    /// back with its reason, for the request's one log line, and answers 401.
    pub(crate) fn bind(&self, claims: &GitHubClaims) -> Result<(), (Refusal, CiError)> {
        if let Some((repository, binding)) = &self.binding
            && let Err(mismatch) = repository
                .check(claims)
                .and_then(|()| binding.check(claims))
        {
            let refusal = Refusal {
                reason: "deployment_mismatch",
                check: Some(mismatch.check),
                expected: Some(mismatch.expected.clone()),
                actual: Some(mismatch.actual.clone()),
                ..Refusal::default()
            };
            return Err((refusal, CiError::Unauthorized));
        }
        Ok(())
    }

    /// Spends the token of a `single_use` endpoint (a no-op elsewhere): the last check, once
    /// everything else about the request is known good. A replay answers 401, a store that cannot
    /// answer 503.
    pub(crate) async fn spend(&self, claims: &GitHubClaims) -> Result<(), (Refusal, CiError)> {
        match &self.single_use {
            Some(single_use) => single_use.record(claims).await,
            None => Ok(()),
        }
    }
}

impl SingleUse {
    async fn record(&self, claims: &GitHubClaims) -> Result<(), (Refusal, CiError)> {
        let Some(jti) = claims.jti.as_deref().filter(|jti| !jti.is_empty()) else {
            let refusal = Refusal {
                reason: "missing_jti",
                check: Some("jti"),
                expected: Some("a jti (single_use endpoint)".to_owned()),
                actual: Some("<missing>".to_owned()),
                ..Refusal::default()
            };
            return Err((refusal, CiError::Unauthorized));
        };
        let key = ReplayKey::new(&claims.iss, &claims.aud, jti);
        let expires_at = claims.exp.saturating_add(self.retention);
        match self.store.record(&key, expires_at, unix_now()).await {
            Ok(Recorded::First) => Ok(()),
            Ok(Recorded::Replay) => {
                // The jti identifies the token but is not a credential: logging it lets an
                // operator find the first use.
                let refusal = Refusal {
                    reason: "replay",
                    check: Some("jti"),
                    expected: Some("a jti not used before".to_owned()),
                    actual: Some(format!("{jti:?} (already used)")),
                    ..Refusal::default()
                };
                Err((refusal, CiError::Unauthorized))
            }
            Err(error) => {
                let refusal = Refusal {
                    reason: "replay_store_unavailable",
                    check: Some("jti"),
                    expected: Some(format!("an answer from {}", self.store.describe())),
                    actual: Some(error.to_string()),
                    ..Refusal::default()
                };
                Err((refusal, CiError::Unavailable))
            }
        }
    }
}
