//! One module per subcommand: its flags (`Args`) and its `run`. A command only parses, orders
//! the steps and prints; the steps themselves (discovery, the readiness wait, calling an endpoint,
//! minting) live in the crate's other modules, so no command imports another.

pub(crate) mod call;
pub(crate) mod discover;
pub(crate) mod flags;
pub(crate) mod open_state;
pub(crate) mod policy;
pub(crate) mod smoke;
pub(crate) mod storage_state;
pub(crate) mod token;
pub(crate) mod wait;
