//! ci-fixtures
