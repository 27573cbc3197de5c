//! The `vercel/protection-cookie` CI endpoint: a browser on a protected Vercel preview with no
//! secret in CI.
//!
//! Vercel's Trusted Sources let a CI job's API calls through with a five-minute OIDC token sent on
//! every request, but a browser needs a cookie, and only the project's Protection Bypass for
//! Automation secret can be exchanged for one. The deployment already holds that secret
//! (`VERCEL_AUTOMATION_BYPASS_SECRET`, a Vercel system variable), so it primes itself: a verified
//! CI caller asks, the endpoint sends one request to its own host through Vercel's edge with the
//! secret and `x-vercel-set-bypass-cookie`, and hands back only the cookie Vercel set, in
//! Playwright's `storageState` shape. The cookie is good for that one host, for as long as Vercel
//! says; the project-wide secret never leaves the deployment.
//!
//! - [`hosts`]: which hosts are this deployment's own (only those are primed).
//! - [`prime`]: the priming request.
//! - [`set_cookie`]: the `Set-Cookie` it gets back, as a Playwright cookie (the client reads its
//!   own priming answer with it too).
//! - the endpoint itself ([`endpoint`]): the HTTP contract (`CONTRACT.md`).

pub mod hosts;
pub mod prime;
pub mod set_cookie;

mod endpoint;

pub use endpoint::{BYPASS_SECRET_VAR, BypassSecret, NAME, Settings, endpoint, endpoint_with};
pub use hosts::{OwnHosts, SELF_CA_VAR, SELF_URL_VAR};
pub use prime::{Primed, PrimingError, StorageCookie};
