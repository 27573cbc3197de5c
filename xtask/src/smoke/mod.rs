//! `cargo xtask smoke [--docker | --vercel]`: the whole CI-in-preview flow on this machine.
//!
//! The mocks (OIDC issuer, GitHub API with its Actions token endpoint) run in this process; the
//! server and the client run as the real binaries, so what is exercised is exactly what a
//! workflow and a preview run. `--docker` puts the server in the FROM-scratch image instead;
//! `--vercel` runs the Vercel function binary (`ci-preview-vercel`) under the emulated Vercel
//! host instead, and checks that the host got an `end` frame for every request.
//! Prints a table of steps with timings and exits non-zero when any step fails.

mod endpoints;
mod protection;
mod refusals;
mod server;
mod session;
mod stealth;
mod vercel;
mod work;

use std::path::Path;
use std::time::Duration;

use ci_fixtures::github::MockGitHub;
use ci_fixtures::{DEFAULT_PULL_REQUEST, DEFAULT_REPOSITORY, MockIssuer};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed};
use crate::steps::Steps;
use server::ServerSpec;
use vercel::Deployment;
use work::{WorkDir, pull_request_event, random_secret};

const ENDPOINT: &str = "flags/encrypt-override";
/// The audience the smoke policy gives the endpoint; the client learns it from health.
const AUDIENCE: &str = "https://ci-in-preview.smoke/api/~/ci/flags/encrypt-override";
/// The PR head the preview serves (and the client waits for): not the token's merge `sha`.
const HEAD_SHA: &str = "0c4e2a1fd3b54c9e8a7f6d5c4b3a29180f7e6d5c";

pub(crate) fn run(args: &flags::Smoke) -> Result {
    let flags::Smoke {
        docker,
        vercel,
        no_build,
    } = *args;
    if docker && vercel {
        return Err(flags::usage(
            "--docker and --vercel are two deployments: pick one",
        ));
    }

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    if !no_build {
        eprintln!("==> building ci-preview-server, ci-preview-vercel and ci-preview");
        cmd!(
            sh,
            "cargo build --quiet --locked -p ci-preview-server -p ci-preview-vercel -p ci-preview"
        )
        .run()?;
    }
    let image = if docker {
        Some(crate::image::build(&sh)?)
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        tokio::select! {
            outcome = flow(image.as_deref(), vercel) => outcome,
            _ = tokio::signal::ctrl_c() => Err(failed("interrupted; every process was stopped")),
        }
    })
}

async fn flow(image: Option<&str>, vercel: bool) -> Result {
    let mut steps = Steps::default();
    let outcome = flow_steps(&mut steps, image, vercel).await;
    steps.print();
    match (outcome, steps.failures()) {
        (Err(e), _) => Err(e),
        (Ok(()), 0) => Ok(()),
        (Ok(()), n) => Err(failed(format!("{n} smoke step(s) failed"))),
    }
}

async fn flow_steps(steps: &mut Steps, image: Option<&str>, vercel: bool) -> Result {
    let work = WorkDir::new()?;
    let (issuer, github) = steps
        .run_async("start mock issuer and mock GitHub", async {
            let issuer = MockIssuer::start().await;
            let github = MockGitHub::start(&issuer).await;
            Ok((issuer, github))
        })
        .await?;
    let secret = random_secret()?;
    let auth_secret = random_secret()?;
    let bypass_secret = random_secret()?;
    // tokens/mint and proxy/clerk-testing-token: not in --docker (the image sees only the policy
    // file and the variables passed by name, not the fake Clerk's CA file).
    let mint_key = random_secret()?;
    let clerk_key = format!("sk_test_{}", random_secret()?);
    let clerk = match image {
        None => Some(endpoints::FakeClerk::start(&clerk_key).await),
        Some(_) => None,
    };
    let extra_env = match &clerk {
        Some(clerk) => clerk.env(&mint_key, &clerk_key, &work.path("upstream-ca.pem"))?,
        None => Vec::new(),
    };
    let mut policy_text = issuer.policy_toml(ENDPOINT, AUDIENCE)
        + &session::policy_entry()
        + &protection::policy_entry();
    if let Some(clerk) = &clerk {
        policy_text.push_str(&clerk.policy_entries());
    }
    let policy = work.write("ci-policy.toml", &policy_text)?;
    // The emulated Vercel edge's address first: the deployment primes itself through it.
    let (edge_listener, edge_url) = protection::bind_edge().await?;
    let server_bin = server::binary("ci-preview-server");
    let spec = |port, environment| ServerSpec {
        binary: &server_bin,
        image,
        port,
        policy: &policy,
        environment,
        commit: HEAD_SHA,
        flags_secret: &secret,
        auth_secret: &auth_secret,
        bypass_secret: &bypass_secret,
        self_url: &edge_url,
        extra_env: &extra_env,
    };
    let preview_spec = spec(server::free_port()?, "preview");
    let preview = steps
        .run_async(
            "start server (preview)",
            Deployment::start(&preview_spec, vercel),
        )
        .await?;

    // The preview of PR #12 at HEAD_SHA, as GitHub's deployments API reports it.
    github.add_pull_request(DEFAULT_PULL_REQUEST, HEAD_SHA);
    let deployment = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(deployment, "success", Some(&preview.url), None);
    let event = work.write("event.json", &pull_request_event(HEAD_SHA).to_string())?;
    let output_file = work.write("github_output", "")?;
    let summary_file = work.write("step_summary", "")?;
    let client = ClientEnv {
        github: &github,
        event: &event,
        output: &output_file,
        summary: &summary_file,
    };

    steps
        .run_async("client: ci-preview smoke", async {
            let out = client.run(&["smoke"]).await?;
            let outputs = std::fs::read_to_string(&output_file).unwrap_or_default();
            let want = format!("preview-url={}", preview.url);
            if !outputs.lines().any(|l| l == want) || !outputs.contains("cookie-length=") {
                return Err(failed(format!(
                    "unexpected $GITHUB_OUTPUT:\n{outputs}\n{out}"
                )));
            }
            let summary = std::fs::read_to_string(&summary_file).unwrap_or_default();
            if summary.trim().is_empty() {
                return Err(failed("the step summary is empty"));
            }
            Ok(())
        })
        .await?;

    let flags = json!({"ciInPreviewSmoke": true, "variant": "blue", "ratio": 0.25, "ünïcode": "✓"});
    steps
        .run_async("client: call, cookie decrypts to the flags", async {
            let data = json!({ "flags": flags }).to_string();
            let out = client
                .run(&["call", ENDPOINT, "--url", &preview.url, "--data", &data])
                .await?;
            let answer: Value = serde_json::from_str(out.trim())
                .map_err(|e| failed(format!("call printed no JSON ({e}): {out}")))?;
            let cookie = answer["cookie"]
                .as_str()
                .ok_or_else(|| failed("no cookie"))?;
            let key =
                encrypt_override::FlagsSecret::parse(&secret).map_err(|e| failed(e.to_string()))?;
            let overrides = encrypt_override::decrypt(cookie, &key)
                .map_err(|e| failed(format!("the cookie does not decrypt: {e}")))?;
            if overrides != flags {
                return Err(failed(format!("round trip changed the flags: {overrides}")));
            }
            Ok(())
        })
        .await?;

    steps
        .run_async(
            "client: call auth/encrypt-session, session decodes",
            async {
                let data = session::request().to_string();
                let out = client
                    .run(&[
                        "call",
                        session::ENDPOINT,
                        "--url",
                        &preview.url,
                        "--data",
                        &data,
                    ])
                    .await?;
                session::check_answer(&out, &auth_secret)
            },
        )
        .await?;

    let _ = steps
        .run_async("server log: one audit line per authorized call", async {
            let minted = github.mints();
            // smoke, call, call auth/encrypt-session: three authorized calls so far.
            stealth::check_audit_lines(
                &preview.output(),
                3,
                minted.iter().map(|m| m.token.as_str()),
            )
        })
        .await;

    if clerk.is_some() {
        endpoints::calls(steps, &client, &preview.url, &mint_key, &clerk_key).await?;
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let edge = protection::edge(&issuer, &bypass_secret)
        .upstream(&preview.url)
        .start_on(edge_listener);
    steps
        .run_async(
            "client: vercel/protection-cookie through the edge, cookie opens it",
            protection::call_and_check(&client, &edge, &http),
        )
        .await?;
    let endpoint_url = format!("{}/api/~/ci/{ENDPOINT}", preview.url);
    for case in refusals::table(&issuer, AUDIENCE) {
        // A failed refusal is recorded and the run goes on, so one report shows all of them.
        let _ = steps
            .run_async(case.name, refusals::check(&http, &endpoint_url, &case))
            .await;
    }

    let production_spec = spec(server::free_port()?, "production");
    let production = steps
        .run_async(
            "start server (production)",
            Deployment::start(&production_spec, vercel),
        )
        .await?;
    let _ = steps
        .run_async("production: every CI route is 404", async {
            refusals::check_production(&http, &production.url, &issuer).await
        })
        .await;

    let stealth_policy = work.write(
        "ci-policy-stealth.toml",
        &stealth::stealth_policy(&std::fs::read_to_string(&policy).unwrap_or_default()),
    )?;
    let stealth_spec = ServerSpec {
        policy: &stealth_policy,
        ..spec(server::free_port()?, "preview")
    };
    let hidden = steps
        .run_async(
            "start server (preview, stealth = true)",
            Deployment::start(&stealth_spec, vercel),
        )
        .await?;
    stealth::check_server(steps, &http, &hidden.url, &issuer, &client).await;

    if vercel {
        let _ = steps
            .run_async("vercel: an `end` frame for every request", async {
                preview.every_request_ended().await?;
                production.every_request_ended().await
            })
            .await;
    }
    let logs = format!(
        "{}{}{}",
        preview.output(),
        production.output(),
        hidden.output()
    );
    let _ = steps
        .run_async("server logs hold no secret or token", async {
            let minted = github.mints();
            server::check_logs(
                &logs,
                &[&secret, &auth_secret, &bypass_secret, &mint_key, &clerk_key],
                minted.iter().map(|m| m.token.as_str()),
            )
        })
        .await;
    steps
        .run_async("servers stop on SIGTERM", async {
            for server in [preview, production, hidden] {
                let code = server.stop().await?;
                if code != 0 {
                    return Err(failed(format!("the server exited with code {code}")));
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// The GitHub Actions environment the client runs in, pointing at the mocks.
struct ClientEnv<'a> {
    github: &'a MockGitHub,
    event: &'a Path,
    output: &'a Path,
    summary: &'a Path,
}

impl ClientEnv<'_> {
    async fn run(&self, args: &[&str]) -> Result<String> {
        let out = tokio::process::Command::new(server::binary("ci-preview"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", self.github.api_url())
            .env("GITHUB_REPOSITORY", DEFAULT_REPOSITORY)
            .env("GITHUB_TOKEN", self.github.github_token())
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", self.event)
            .env("GITHUB_OUTPUT", self.output)
            .env("GITHUB_STEP_SUMMARY", self.summary)
            // The mock deployment's preview is on loopback, not *.vercel.app; the policy's
            // audiences name a stable domain, which the client accepts from health only when
            // allowed (as a team whose policy names its production domain does).
            .env("CI_PREVIEW_ALLOW_HOSTS", "127.0.0.1,ci-in-preview.smoke")
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                self.github.id_token_request_url(),
            )
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                self.github.id_token_request_token(),
            )
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .map_err(|_| failed("the client did not finish within 60 s"))?
            .map_err(|e| failed(format!("cannot run ci-preview: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(failed(format!(
                "ci-preview {args:?} exited with {}:\n{stderr}",
                out.status
            )));
        }
        Ok(stdout)
    }
}
