//! Integration tests of `tokens/mint`: the endpoint and its logs.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod common;
mod endpoint;
mod logs;
