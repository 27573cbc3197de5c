//! ci-oidc
