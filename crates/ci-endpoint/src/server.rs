//! The wiring: what a binary (or a test) needs to turn a policy and a list of [`crate::Endpoint`]s
//! into a router. Endpoint authors do not need it; `ci-preview-server` and `ci-preview-vercel`
//! call it for them.

pub mod replay;

pub use crate::app::{AppOptions, StartupError, app, app_with};
pub use crate::body::read_json_body;
pub use crate::deployment::Deployment;
pub use crate::endpoint::EndpointState;
pub use crate::kv::redact_url;
pub use crate::policy::{DEFAULT_SERVE_IN, Policy, PolicyError};
pub use crate::stealth::STEALTH_FLOOR;
