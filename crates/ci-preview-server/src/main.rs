//! `ci-preview-server`: the built-in endpoints on a socket of their own (`CONTRACT.md` §6). A
//! team serving endpoints of its own composes the same [`ci_preview_server::Server`] with its
//! list (`system-docs/README-CI-IN-PREVIEW-PATTERN.md` §6).

use std::process::ExitCode;

fn main() -> ExitCode {
    ci_preview_server::Server::new(ci_preview_server::BUILTIN_POLICY)
        .endpoints(ci_preview_server::builtin_endpoints())
        .run()
}
