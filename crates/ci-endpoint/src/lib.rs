//! ci-endpoint
