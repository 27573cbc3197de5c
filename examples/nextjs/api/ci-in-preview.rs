//! The CI-in-preview endpoints as one Vercel Rust function.
//!
//! `vercel.json` rewrites `/api/~/ci/:path*` to this function and the function sees the original
//! path, so `/api/~/ci/health` and every endpoint are served here. The policy is the project's
//! `ci-policy.toml`, compiled in (reviewed like code, no file to ship with the function); the
//! rest of the configuration is the deployment's environment: see this template's README.

fn main() -> std::process::ExitCode {
    ci_preview_vercel::main(include_str!("../ci-policy.toml"))
}
