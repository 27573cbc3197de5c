//! Checks that run after a token's signature and policy have passed and before the handler, for
//! properties the token alone cannot prove. This is the seam for issue 6: a replay store
//! (`single_use`: each `jti` accepted once) and deployment binding (`bind_deployment`: the token's
//! `sha` must be the commit this deployment serves). Until they are built, a policy that asks for
//! either is refused at start-up rather than silently not enforced.

use ci_oidc::{EndpointPolicy, GitHubClaims};

use crate::{CiError, StartupError};

/// The post-verification checks of one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guards {
    _private: (),
}

impl Guards {
    /// The checks `policy` asks for, or a start-up error for a check this build cannot enforce.
    pub(crate) fn for_endpoint(
        name: &str,
        policy: &EndpointPolicy,
    ) -> Result<Guards, StartupError> {
        for (key, requested) in [
            ("single_use", policy.single_use),
            ("bind_deployment", policy.bind_deployment),
        ] {
            if requested {
                return Err(StartupError::Unsupported {
                    key: format!("endpoints.{name:?}.{key}"),
                    message: "not supported by this server build; remove it or upgrade".to_owned(),
                });
            }
        }
        Ok(Guards { _private: () })
    }

    /// Runs the checks for a verified caller. Refusals log their reason here and answer like any
    /// other policy failure.
    pub(crate) async fn check(
        &self,
        _endpoint: &'static str,
        _claims: &GitHubClaims,
    ) -> Result<(), CiError> {
        Ok(())
    }
}
