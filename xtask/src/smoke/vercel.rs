//! What the smoke runs as "the deployment": the server (a process or its container), or with
//! `--vercel` the Vercel function binary under the emulated Vercel host of `ci_fixtures::vercel`.
//! Under the host every request goes through its front door, which adds the internal headers
//! the Vercel runtime keys its `end` frames on, so the run also proves each request ended.

use std::time::Duration;

use ci_fixtures::{redis::TestRedis, vercel::VercelHost};

use super::server::{self, RunningServer, ServerSpec};
use crate::flags::{Result, failed};

/// A running deployment; stopped when dropped.
pub(super) struct Deployment {
    /// Where the client reaches it (the host's front door under `--vercel`).
    pub url: String,
    inner: Inner,
}

enum Inner {
    Server(Box<RunningServer>),
    /// The Redis is the replay store the function's instances share: under Vercel a
    /// `single_use` endpoint (the session one) does not start without it. Held so a Redis
    /// started for the run lives as long as the function.
    Vercel(Box<VercelHost>, #[allow(dead_code)] TestRedis),
}

impl Deployment {
    /// Starts the deployment `spec` describes, as a Vercel function when `vercel`.
    pub(super) async fn start(spec: &ServerSpec<'_>, vercel: bool) -> Result<Deployment> {
        if !vercel {
            let server = RunningServer::start(spec).await?;
            return Ok(Deployment {
                url: server.url.clone(),
                inner: Inner::Server(Box::new(server)),
            });
        }
        let policy = spec.policy.display().to_string();
        let redis = TestRedis::get("smoke --vercel").ok_or_else(|| {
            failed(
                "smoke --vercel needs a Redis (the session endpoint is single_use, which under \
                 Vercel needs CI_PREVIEW_REDIS_URL): install redis-server or set \
                 CI_PREVIEW_TEST_REDIS_URL",
            )
        })?;
        let redis_url = redis.url();
        // As Vercel sets it: the platform's own environment name, no CI_PREVIEW_ENV.
        let mut env = vec![
            ("CI_PREVIEW_POLICY", policy.as_str()),
            ("VERCEL_ENV", spec.environment),
            ("VERCEL_GIT_COMMIT_SHA", spec.commit),
            ("FLAGS_SECRET", spec.flags_secret),
            ("AUTH_SECRET", spec.auth_secret),
            ("VERCEL_AUTOMATION_BYPASS_SECRET", spec.bypass_secret),
            ("CI_PREVIEW_SELF_URL", spec.self_url),
            ("CI_PREVIEW_REDIS_URL", redis_url.as_str()),
            ("RUST_LOG", "info"),
        ];
        env.extend(spec.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
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
            inner: Inner::Vercel(Box::new(host), redis),
        })
    }

    /// Everything it wrote so far.
    pub(super) fn output(&self) -> String {
        match &self.inner {
            Inner::Server(server) => server.output(),
            Inner::Vercel(host, _) => host.output(),
        }
    }

    /// Under the host: every request forwarded so far got exactly one `end` frame.
    pub(super) async fn every_request_ended(&self) -> Result {
        match &self.inner {
            Inner::Server(_) => Ok(()),
            Inner::Vercel(host, _) => {
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
    pub(super) async fn stop(self) -> Result<i32> {
        match self.inner {
            Inner::Server(server) => server.stop().await,
            Inner::Vercel(host, _) => host
                .stop()
                .await
                .map(|status| status.code().unwrap_or(-1))
                .map_err(failed),
        }
    }
}
