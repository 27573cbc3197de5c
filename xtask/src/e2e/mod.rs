//! `cargo xtask e2e [--flag NAME=VALUE]… [--user SUB] [--no-protection]`: the pattern's payoff in
//! a real browser. The Next.js example (`examples/nextjs`, real Flags SDK and Auth.js) runs as a
//! preview would: `next start` and the example's Rust function (under the emulated Vercel host)
//! behind an emulated Vercel edge that serves HTTPS on the preview's hostname with a test CA,
//! applies the example's `vercel.json` rewrites and Deployment Protection. `ci-preview` writes the
//! browser state as a CI job would (tokens from the mock GitHub), and Chromium, driven by
//! playwright-core, must show the overridden flags and the signed-in user, and the refusals:
//! without state the edge refuses; with only the protection cookie the flags are at their defaults
//! and nobody is signed in; a state older than its cookies no longer signs in.
//!
//! Saves `target/e2e/page.png` and prints the page's marker JSON as the last line of stdout.

mod app;
mod browser;
mod checks;
mod edge;
mod policy;
mod preview;
mod resolver;
mod rewrites;
mod state;
mod tls;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed};
use crate::steps::Steps;
use browser::Visit;
use state::Protection;

/// The preview's hostname: a reserved name (RFC 2606 `.test`) that resolves nowhere else.
const HOST: &str = "example-app-git-pr-12.ci-in-preview.test";
/// The overrides when no `--flag` is given: every flag away from its default.
const DEFAULT_FLAGS: [&str; 3] = ["newCheckout=true", "checkoutVariant=blue", "maxItems=10"];
/// The test user when no `--user` is given.
const DEFAULT_USER: &str = "e2e-user-1";
/// The Trusted Sources rule's audience: this project's own, accepted by nothing else.
const PROTECTION_AUDIENCE: &str = "https://vercel.com/octo-org/example-app";
/// The lifetime of the state the expiry check waits out: long enough that the session is still
/// valid when the fourth visit asks Auth.js to re-sign it, so the check proves the example's
/// `callbacks.jwt` ends it at `ci_expires_at` (with a 2 s lifetime the session had expired before
/// the re-sign and the check passed even when the callback read the wrong claim).
const SHORT_LIFETIME: u64 = 8;
/// The expiry check first lets Auth.js re-sign the session (which resets its `exp` to the app's
/// 30-day `maxAge`): only the reserved claim can then end it.
const REFRESH_SESSION: bool = true;

pub(crate) fn run(args: &flags::E2e) -> Result {
    let mut overrides = args.flags.clone();
    let user = args.user.clone().unwrap_or_else(|| DEFAULT_USER.to_owned());
    let protection = if args.no_protection {
        Protection::None
    } else {
        Protection::Oidc
    };
    if overrides.is_empty() {
        overrides = DEFAULT_FLAGS.map(str::to_owned).to_vec();
    }
    let example = crate::project_root().join("examples/nextjs");
    let expected = checks::Expected::new(&example, &overrides, &user)?;

    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    let mut steps = Steps::default();
    let built = build(&sh, &mut steps, &example);
    if built.is_err() {
        steps.print();
    }
    built?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = flow(&mut steps, &example, &expected, protection) => outcome,
            _ = tokio::signal::ctrl_c() => Err(failed("interrupted; every process was stopped")),
        }
    });
    steps.print();
    eprintln!(
        "e2e after the builds: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let marker = outcome?;
    match steps.failures() {
        0 => {
            println!("{marker}");
            Ok(())
        }
        n => Err(failed(format!("{n} e2e step(s) failed"))),
    }
}

fn build(sh: &Shell, steps: &mut Steps, example: &Path) -> Result {
    steps.run("cargo build: ci-preview", || {
        cmd!(sh, "cargo build --quiet --locked -p ci-preview").run()?;
        Ok(())
    })?;
    steps.run("cargo build: the example's function", || {
        let manifest = example.join("Cargo.toml");
        let target = target_dir();
        cmd!(
            sh,
            "cargo build --quiet --locked --manifest-path {manifest} --target-dir {target} --bin ci-in-preview"
        )
        .run()
        .map_err(|e| {
            failed(format!(
                "{e}\n(if examples/nextjs/Cargo.lock is out of date after a dependency change, \
                 refresh it: `cargo metadata --format-version 1 --manifest-path \
                 examples/nextjs/Cargo.toml >/dev/null`)"
            ))
        })?;
        Ok(())
    })?;
    steps.run("npm ci (when node_modules is stale)", || {
        app::install(example).map(drop)
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(e.to_string()))?;
    steps.run("next build", || runtime.block_on(app::build(example)))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"))
}

pub(super) fn binary(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}

/// Everything after the builds; the marker of the signed-in page.
async fn flow(
    steps: &mut Steps,
    example: &Path,
    expected: &checks::Expected,
    protection: Protection,
) -> Result<Value> {
    let work = WorkDir::new()?;
    let preview = preview::Preview::start(steps, example, &work.0, protection).await?;
    let preview_url = preview.url.clone();
    let client = preview.client(&work.0);
    let full_state = work.0.join("state.json");
    let state = steps
        .run_async(
            "ci-preview storage-state --seal, then open-state",
            state::write(
                &client,
                &state::Request {
                    url: &preview_url,
                    flags: &expected.overrides,
                    user: &expected.user,
                    expires_in: None,
                    protection,
                },
                &full_state,
            ),
        )
        .await
        .inspect_err(|_| eprintln!("the function's output:\n{}", preview.logs()))?;
    let short_state = steps
        .run_async(
            "ci-preview storage-state --seal / open-state, short-lived",
            state::write(
                &client,
                &state::Request {
                    url: &preview_url,
                    flags: &expected.overrides,
                    user: &expected.user,
                    expires_in: Some(SHORT_LIFETIME),
                    protection,
                },
                &work.0.join("short.json"),
            ),
        )
        .await?;

    // Browser files: the states as the visits load them.
    let protection_only = work.0.join("protection-only.json");
    write_json(
        &protection_only,
        &state::filtered(&state, checks::is_protection_cookie),
    )?;
    let expired = work.0.join("expired.json");
    let kept = state::kept_past_expiry(&short_state, unix_now() + 1);
    write_json(&expired, &kept)?;
    let screenshot = target_dir().join("e2e").join("page.png");
    std::fs::create_dir_all(screenshot.parent().unwrap_or(Path::new(".")))
        .map_err(|e| failed(e.to_string()))?;
    let _ = std::fs::remove_file(&screenshot);
    let wait_until = state::latest_expiry(&short_state, &checks::APP_COOKIES).unwrap_or(0) + 1;
    let plain = |name, state| Visit {
        name,
        state,
        screenshot: None,
        refresh_session: false,
        not_before: None,
    };
    let visits = [
        plain("no state", None),
        plain("protection cookie only", Some(protection_only)),
        Visit {
            screenshot: Some(screenshot.clone()),
            ..plain("the state", Some(full_state.clone()))
        },
        // The cookies kept past their lifetime, the session re-signed by Auth.js meanwhile.
        Visit {
            refresh_session: REFRESH_SESSION,
            not_before: Some(wait_until),
            ..plain("the short-lived state, after its lifetime", Some(expired))
        },
    ];
    let seen = steps
        .run_async(
            "browser: four visits",
            browser::visit(
                example,
                &work.0,
                &preview_url,
                HOST,
                preview.leaf_file(),
                &visits,
            ),
        )
        .await?;

    let checks = checks::Checks {
        expected,
        protected: protection == Protection::Oidc,
        preview_url: &preview_url,
    };
    let no_state = if checks.protected {
        "without state: the edge refuses"
    } else {
        "without state (unprotected): defaults, signed out"
    };
    let _ = steps
        .run_async(no_state, async { checks.no_state(&seen[0]) })
        .await;
    if checks.protected {
        let _ = steps
            .run_async("protection cookie only: defaults, signed out", async {
                checks.signed_out_defaults(&seen[1])
            })
            .await;
    }
    let marker = steps
        .run_async("with the state: overridden flags, signed in", async {
            checks.signed_in(&seen[2])
        })
        .await;
    let _ = steps
        .run_async("state past its lifetime: defaults, signed out", async {
            checks.signed_out_defaults(&seen[3])
        })
        .await;
    let _ = steps
        .run_async("screenshot saved", async {
            let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
            if size == 0 {
                return Err(failed(format!("{} was not written", screenshot.display())));
            }
            eprintln!("screenshot: {}", screenshot.display());
            Ok(())
        })
        .await;
    let _ = steps
        .run_async(
            "no secret or token in the logs, nothing resolved elsewhere",
            async {
                checks::no_leaks(
                    &preview.logs(),
                    &preview.secrets.all(),
                    &preview.github,
                    preview.resolver.refused(),
                )
            },
        )
        .await;
    drop(preview);
    marker
}

pub(super) fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| failed(format!("cannot bind 127.0.0.1:0: {e}")))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn write_json(path: &Path, value: &Value) -> Result {
    std::fs::write(path, value.to_string()).map_err(|e| failed(format!("{}: {e}", path.display())))
}

/// A scratch folder under target/e2e, removed when the run ends (it holds the states).
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<WorkDir> {
        let dir = target_dir()
            .join("e2e")
            .join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
