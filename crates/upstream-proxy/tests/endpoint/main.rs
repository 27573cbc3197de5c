//! Integration tests of the upstream proxy endpoints: the proxy and its logs.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod common;
mod logs;
mod proxy;
