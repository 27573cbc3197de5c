//! The CI-in-preview endpoints as one Vercel Rust function.
//!
//! `vercel.json` rewrites `/api/~/ci/:path*` to this function and the function sees the original
//! path, so `/api/~/ci/health` and every endpoint are served here. The list below is what this
//! deployment can serve (built-in endpoints are opt-in, the team's own live in endpoints/); the
//! policy, compiled in and reviewed like code, decides which of them it does serve. The rest of the
//! configuration is the deployment's environment: see this template's README.

fn main() -> std::process::ExitCode {
    ci_preview_vercel::Function::new(include_str!("../ci-policy.toml"))
        .endpoint(encrypt_override::endpoint())
        .endpoint(protection_cookie::endpoint())
        .endpoint(cleanup_kv::endpoint())
        .run()
}
