//! Integration tests of xtask: `install.sh` against a fake release and the action run locally.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod install;
mod install_support;
mod run_action;
