//! Integration tests of the endpoint kit: the app, its guards, bindings, policy, health, logs and
//! single use (in memory and on Redis).
//!
//! One test binary per crate (a module per suite) links once instead of once per file.

mod audit;
mod binding;
mod common;
mod contract;
mod guards_support;
mod health;
mod logs;
mod perimeter;
mod policy;
mod replay_redis;
mod replay_redis_tls;
mod single_use;
mod single_use_body;
mod stealth;
mod writing;
