//! The built-in endpoints as a Vercel function: what this repository's tests and smoke run under
//! the emulated Vercel host. A team's function is the same few lines with its own list
//! (`templates/vercel/api/ci-in-preview.rs`).

fn main() -> std::process::ExitCode {
    ci_preview_vercel::Function::new(ci_preview_server::BUILTIN_POLICY)
        .endpoints(ci_preview_server::builtin_endpoints())
        .run()
}
