//! Integration tests of the session endpoint: the endpoint and the round trip through Auth.js.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod authjs_roundtrip;
mod common;
mod endpoint;
mod identity;
