//! Integration tests of `flags/encrypt-override`: the endpoint, its logs and the round trip
//! through the Flags SDK.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod common;
mod endpoint;
mod logs;
mod sdk_roundtrip;
