//! The CI-in-preview endpoints of this project as one Vercel Rust function.
//!
//! `vercel.json` rewrites `/api/~/ci/:path*` to this function and the function sees the original
//! path, so `/api/~/ci/health` and every endpoint are served here. The list below is what this
//! deployment can serve: flag overrides for the Flags SDK, Auth.js test sessions and the browser's
//! Deployment Protection cookie; the policy,
//! compiled in and reviewed like code, decides who may call them.

fn main() -> std::process::ExitCode {
    ci_preview_vercel::Function::new(include_str!("../ci-policy.toml"))
        .endpoint(encrypt_override::endpoint())
        .endpoint(encrypt_session::endpoint())
        .endpoint(protection_cookie::endpoint())
        .run()
}
