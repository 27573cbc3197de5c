//! `ci-preview-vercel`: the CI-in-preview endpoints as a Vercel Rust function.
//!
//! On Vercel the endpoints run inside the preview deployment itself, next to the app and its
//! secrets: one function file (`templates/vercel/api/ci-in-preview.rs`) composes a [`Function`]
//! from the project's policy and the endpoints it serves, and a `vercel.json` rewrite sends
//! `/api/~/ci/*` to it. Start-up is `ci-preview-server`'s library
//! (same policy, endpoints, keys, exit codes); only the serving differs: the function hands the
//! app to `vercel_runtime::run` through [`RouterService`] instead of binding a socket of its own.
//! `system-docs/DEPLOYMENT.md` tells the whole path.

mod bridge;
mod function;

pub use bridge::RouterService;
pub use function::Function;
