//! One module per subcommand: its flags (`Args`) and its `run`. A command only parses, orders
//! the steps and prints; the steps themselves (discovery, the readiness wait, calling an endpoint,
//! minting) live in the crate's other modules, so no command imports another.

pub mod call;
pub mod discover;
pub mod flags;
pub mod policy;
pub mod smoke;
pub mod token;
pub mod wait;
