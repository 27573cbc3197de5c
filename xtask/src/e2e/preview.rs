//! The emulated preview deployment: the mocks of GitHub, the example's function under the emulated
//! Vercel host, `next start`, and the HTTPS edge in front of both on the preview's hostname, all
//! with the environment Vercel gives a preview of pull request 12 and fresh secrets. Everything
//! stops when the `Preview` drops.

use std::path::Path;

use base64::Engine as _;
use ci_fixtures::vercel::VercelHost;
use ci_fixtures::{
    DEFAULT_PULL_REQUEST, DEFAULT_SHA, DeploymentProtection, MockGitHub, MockIssuer,
};

use super::state::{self, Protection};
use super::{
    HOST, PROTECTION_AUDIENCE, app, binary, edge, free_port, policy, resolver, rewrites, tls,
};
use crate::flags::{Result, failed};
use crate::steps::Steps;

/// The project's secrets for this run: fresh, never printed.
pub(super) struct Secrets {
    flags: String,
    auth: String,
    bypass: String,
}

impl Secrets {
    fn new() -> Result<Secrets> {
        Ok(Secrets {
            flags: random_secret()?,
            auth: random_secret()?,
            bypass: random_secret()?,
        })
    }

    pub(super) fn all(&self) -> [&str; 3] {
        [&self.flags, &self.auth, &self.bypass]
    }
}

pub(super) struct Preview {
    /// `https://HOST:PORT`.
    pub url: String,
    pub github: MockGitHub,
    pub resolver: resolver::Resolver,
    pub secrets: Secrets,
    tls: tls::TestTls,
    // Dropped in this order: the edge first, then what it forwards to.
    _edge: edge::Edge,
    function: VercelHost,
    next: app::App,
    _issuer: MockIssuer,
    _redis: ci_fixtures::redis::RedisServer,
}

impl Preview {
    pub(super) async fn start(
        steps: &mut Steps,
        example: &Path,
        work: &Path,
        protection: Protection,
    ) -> Result<Preview> {
        let secrets = Secrets::new()?;
        // The example's session endpoint is `single_use`, which under Vercel's host (many
        // instances) needs the shared replay store: a Redis of the run's own.
        let redis = ci_fixtures::redis::RedisServer::start().ok_or_else(|| {
            failed("e2e needs redis-server (apt-get install redis-server): the example's policy is single_use")
        })?;
        let redis_url = redis.url();
        let (issuer, github) = steps
            .run_async("start mock issuer and mock GitHub", async {
                let issuer = MockIssuer::start().await;
                let github = MockGitHub::start(&issuer).await;
                Ok((issuer, github))
            })
            .await?;
        let tls = tls::TestTls::create(HOST, work)?;
        let (listener, port) = edge::Edge::bind().await?;
        let url = format!("https://{HOST}:{port}");
        let resolver = resolver::Resolver::start(HOST, port).await?;

        let policy_file = work.join("ci-policy.toml");
        let policy_text = std::fs::read_to_string(example.join("ci-policy.toml"))
            .map_err(|e| failed(format!("examples/nextjs/ci-policy.toml: {e}")))?;
        std::fs::write(
            &policy_file,
            policy::for_run(&policy_text, &issuer.issuer_url(), &url)?,
        )
        .map_err(|e| failed(e.to_string()))?;

        let ca = tls.ca_file.display().to_string();
        let policy = policy_file.display().to_string();
        let pull = DEFAULT_PULL_REQUEST.to_string();
        let (owner, slug) = ci_fixtures::DEFAULT_REPOSITORY
            .split_once('/')
            .unwrap_or_default();
        // What Vercel gives a preview deployment of pull request 12, plus the project's secrets.
        let vercel_env = [
            ("VERCEL", "1"),
            ("VERCEL_ENV", "preview"),
            ("VERCEL_TARGET_ENV", "preview"),
            ("VERCEL_URL", HOST),
            ("VERCEL_GIT_COMMIT_SHA", DEFAULT_SHA),
            ("VERCEL_GIT_COMMIT_REF", "feature/e2e"),
            ("VERCEL_GIT_PULL_REQUEST_ID", pull.as_str()),
            ("VERCEL_GIT_REPO_ID", ci_fixtures::DEFAULT_REPOSITORY_ID),
            ("VERCEL_GIT_REPO_OWNER", owner),
            ("VERCEL_GIT_REPO_SLUG", slug),
            ("VERCEL_AUTOMATION_BYPASS_SECRET", secrets.bypass.as_str()),
            ("FLAGS_SECRET", secrets.flags.as_str()),
            ("AUTH_SECRET", secrets.auth.as_str()),
        ];
        let mut function_env = vercel_env.to_vec();
        function_env.extend([
            ("CI_PREVIEW_POLICY", policy.as_str()),
            ("CI_PREVIEW_SELF_URL", url.as_str()),
            ("CI_PREVIEW_SELF_CA", ca.as_str()),
            ("CI_PREVIEW_REDIS_URL", redis_url.as_str()),
            // The function's own requests to its deployment go through the edge, as on Vercel.
            ("HTTPS_PROXY", resolver.url()),
            ("SSL_CERT_FILE", ca.as_str()),
            ("RUST_LOG", "info"),
        ]);
        let function = steps
            .run_async("start the function under the emulated Vercel host", async {
                VercelHost::start(&binary("ci-in-preview"), &function_env)
                    .await
                    .map_err(|f| {
                        failed(format!(
                            "the function did not start (exit {:?}); its output:\n{}",
                            f.status, f.output
                        ))
                    })
            })
            .await?;
        let next = steps
            .run_async(
                "start next",
                app::App::start(example, free_port()?, &vercel_env),
            )
            .await?;
        let guard = DeploymentProtection::new()
            .with_bypass(&secrets.bypass)
            .with_trusted_source(&issuer, PROTECTION_AUDIENCE);
        let rewrites = rewrites::Rewrites::parse(
            &std::fs::read_to_string(example.join("vercel.json"))
                .map_err(|e| failed(format!("examples/nextjs/vercel.json: {e}")))?,
            functions(example)?,
        )?;
        let edge = edge::Edge::serve(
            listener,
            HOST,
            tls.server_config.clone(),
            rewrites,
            edge::Upstreams {
                app: next.url.clone(),
                function: function.url().to_owned(),
            },
            (protection == Protection::Oidc).then_some(&guard),
        )?;
        eprintln!("preview: {url} (edge on 127.0.0.1:{port})");
        Ok(Preview {
            url,
            github,
            resolver,
            secrets,
            tls,
            _edge: edge,
            function,
            next,
            _issuer: issuer,
            _redis: redis,
        })
    }

    /// The leaf certificate the browser trusts by its key.
    pub(super) fn leaf_file(&self) -> &Path {
        &self.tls.leaf_file
    }

    /// What the function and the app printed so far.
    pub(super) fn logs(&self) -> String {
        format!("{}{}", self.function.output(), self.next.output())
    }

    /// `ci-preview` in the environment of a GitHub Actions job that may mint tokens, pointed at
    /// the mocks, reaching the preview through the resolver and trusting the run's CA.
    pub(super) fn client(&self, work: &Path) -> state::Client {
        let github = &self.github;
        let env = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_API_URL", github.api_url()),
            (
                "GITHUB_REPOSITORY",
                ci_fixtures::DEFAULT_REPOSITORY.to_owned(),
            ),
            (
                "GITHUB_REPOSITORY_OWNER",
                ci_fixtures::DEFAULT_OWNER.to_owned(),
            ),
            ("GITHUB_TOKEN", github.github_token().to_owned()),
            ("RUNNER_TEMP", work.display().to_string()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                github.id_token_request_url(),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                github.id_token_request_token().to_owned(),
            ),
            (
                "CI_PREVIEW_PROTECTION_AUDIENCE",
                PROTECTION_AUDIENCE.to_owned(),
            ),
            ("HTTPS_PROXY", self.resolver.url().to_owned()),
            ("SSL_CERT_FILE", self.tls.ca_file.display().to_string()),
        ];
        state::Client {
            binary: binary("ci-preview"),
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

/// The project's functions by path: `api/NAME.EXT` is served at `/api/NAME`.
fn functions(example: &Path) -> Result<Vec<String>> {
    let dir = std::fs::read_dir(example.join("api"))
        .map_err(|e| failed(format!("examples/nextjs/api: {e}")))?;
    Ok(dir
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let path = entry.path();
            path.file_stem()
                .map(|stem| format!("/api/{}", stem.to_string_lossy()))
        })
        .collect())
}

/// 32 random bytes, base64url: a FLAGS_SECRET, an AUTH_SECRET (43 characters, as `npx auth
/// secret` makes them) or a bypass secret.
fn random_secret() -> Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| failed(format!("cannot read /dev/urandom: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
