//! Integration tests of the server: the binary end to end, slow clients, Redis replay and the
//! container image.
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod common;
mod container;
mod e2e;
mod replay_redis;
mod replay_support;
mod slow_clients;
