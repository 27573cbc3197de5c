//! What the smoke runs as "the deployment": the server (a process or its container), or with
//! `--vercel` the Vercel function binary under the emulated Vercel host of `ci_fixtures::vercel`.
//! Under the host every request goes through its front door, which adds the internal headers
//! the Vercel runtime keys its `end` frames on, so the run also proves each request ended.

use std::time::Duration;

use ci_fixtures::vercel::VercelHost;

use super::server::{self, RunningServer, ServerSpec};
use crate::flags::{Result, failed};

/// A running deployment; stopped when dropped.
pub struct Deployment {
    /// Where the client reaches it (the host's front door under `--vercel`).
    pub url: String,
    inner: Inner,
}

enum Inner {
    Server(Box<RunningServer>),
    Vercel(Box<VercelHost>),
}

impl Deployment {
    /// Starts the deployment `spec` describes, as a Vercel function when `vercel`.
    pub async fn start(spec: &ServerSpec<'_>, vercel: bool) -> Result<Deployment> {
        if !vercel {
            let server = RunningServer::start(spec).await?;
            return Ok(Deployment {
                url: server.url.clone(),
                inner: Inner::Server(Box::new(server)),
            });
        }
        let policy = spec.policy.display().to_string();
        // As Vercel sets it: the platform's own environment name, no CI_PREVIEW_ENV.
        let env = [
            ("CI_PREVIEW_POLICY", policy.as_str()),
            ("VERCEL_ENV", spec.environment),
            ("VERCEL_GIT_COMMIT_SHA", spec.commit),
            ("FLAGS_SECRET", spec.flags_secret),
            ("AUTH_SECRET", spec.auth_secret),
            ("VERCEL_AUTOMATION_BYPASS_SECRET", spec.bypass_secret),
            ("CI_PREVIEW_SELF_URL", spec.self_url),
            ("RUST_LOG", "info"),
        ];
        let host = VercelHost::start(&server::binary("ci-preview-vercel"), &env)
            .await
            .map_err(|f| {
                failed(format!(
                    "the function did not start (exit {:?}); its output:\n{}",
                    f.status, f.output
                ))
            })?;
        Ok(Deployment {
            url: host.url().to_owned(),
            inner: Inner::Vercel(Box::new(host)),
        })
    }

    /// Everything it wrote so far.
    pub fn output(&self) -> String {
        match &self.inner {
            Inner::Server(server) => server.output(),
            Inner::Vercel(host) => host.output(),
        }
    }

    /// Under the host: every request forwarded so far got exactly one `end` frame.
    pub async fn every_request_ended(&self) -> Result {
        match &self.inner {
            Inner::Server(_) => Ok(()),
            Inner::Vercel(host) => {
                if host.forwarded() == 0 {
                    return Err(failed("the host forwarded no request"));
                }
                host.every_request_ended(Duration::from_secs(10))
                    .await
                    .map_err(failed)
            }
        }
    }

    /// SIGTERM, and the exit code (-1 for a death by signal).
    pub async fn stop(self) -> Result<i32> {
        match self.inner {
            Inner::Server(server) => server.stop().await,
            Inner::Vercel(host) => host
                .stop()
                .await
                .map(|status| status.code().unwrap_or(-1))
                .map_err(failed),
        }
    }
}
