//! Integration tests of the verifier: happy paths, every rejection, key stores, ordering of
//! checks, secrets never printed, fuzz regressions and property tests.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod common;
mod fuzz_regressions;
mod happy_paths;
mod keystore;
mod keystore_sources;
mod never_panics;
mod order;
mod policy_properties;
mod rejections;
mod secrets;
