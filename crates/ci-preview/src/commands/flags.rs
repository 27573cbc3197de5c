//! `ci-preview flags NAME=VALUE…`: the flag-override cookie, ready for an e2e suite.
//!
//! Every public recipe for override cookies in Playwright computes the cookie in CI with
//! `FLAGS_SECRET`; here the preview computes it (`flags/encrypt-override`) and the client writes
//! what the tests consume: a Playwright `storageState` file (`--storage-state`), a variable in
//! `$GITHUB_ENV` (`--github-env`), or the JSON answer on stdout. `--expires-in` asks for a shorter
//! lifetime than the endpoint's `cookie_max_age`, the request's `"maxAge"`.
//!
//! With `--storage-state` and a protection mode, a priming request (`x-vercel-set-bypass-cookie`)
//! makes Vercel answer with the `Set-Cookie` a browser needs to pass Deployment Protection; that
//! cookie goes into the same file, scoped to the preview's host. Values are masked before anything
//! is written, and files are mode 0600 (`$RUNNER_TEMP` by default).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::actions::{self, RunnerFiles};
use crate::endpoint::{CallArgs, call_endpoint};
use crate::error::{CliError, Result};
use crate::minter::{IdTokenArgs, Minter};
use crate::preview::Preview;
use crate::protection::{Guard, ProtectionArgs};
use crate::secret::Secret;
use crate::storage_state;
use crate::{env, http, jwe, overrides};

/// The endpoint that makes override cookies.
pub(crate) const ENDPOINT: &str = "flags/encrypt-override";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Overrides as NAME=VALUE, typed like `vercel flags override`: `true`/`false`, numbers and
    /// JSON (`{..}`, `[..]`, `"..."`, `null`) are parsed, anything else is a string. `@FILE` reads
    /// a JSON object of overrides.
    #[arg(value_name = "NAME=VALUE", required = true)]
    pub flags: Vec<String>,
    /// The preview URL (from `ci-preview discover`).
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// Lifetime to ask for, e.g. 30m (sent as "maxAge"; the endpoint refuses more than its
    /// `cookie_max_age`) [default: the endpoint's `cookie_max_age`, 2 h unless configured].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub expires_in: Option<Duration>,
    /// Write a Playwright storageState file (mode 0600) and print its path
    /// [default FILE: $RUNNER_TEMP/ci-preview-storage-state.json].
    ///
    /// A file must be joined to the flag (`--storage-state=FILE`): a separate word after it is
    /// always an override, so `--storage-state newCheckout=true` means the default file.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub storage_state: Option<Option<PathBuf>>,
    /// Write the cookie value to $GITHUB_ENV as this variable for later steps.
    #[arg(long, value_name = "VAR")]
    pub github_env: Option<String>,
    /// The runner's temporary folder (set by the runner).
    #[arg(long, env = env::RUNNER_TEMP, hide = true)]
    pub runner_temp: Option<PathBuf>,
    #[command(flatten)]
    pub call: CallArgs,
    #[command(flatten)]
    pub hosts: crate::hosts::HostArgs,
    #[command(flatten)]
    pub files: RunnerFiles,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    // Everything the job can get wrong is checked before a request.
    let flags = overrides::parse(&args.flags)?;
    let state_file = args
        .storage_state
        .as_ref()
        .map(|p| {
            storage_state::file_path(
                p.as_deref(),
                args.runner_temp.as_deref(),
                "give --storage-state a FILE outside GitHub Actions",
            )
        })
        .transpose()?;
    let env_target = match &args.github_env {
        Some(var) => {
            actions::check_var_name(var)?;
            Some((args.files.env_file()?, var.as_str()))
        }
        None => None,
    };
    let mut body = json!({ "flags": flags });
    if let Some(lifetime) = args.expires_in {
        if lifetime < Duration::from_secs(1) {
            return Err(CliError::config("--expires-in must be at least 1s"));
        }
        body["maxAge"] = lifetime.as_secs().into();
    }
    let client = http::client()?;
    let minter = Minter::new(&args.id_token, client.clone())?;
    let guard = Arc::new(args.protection.guard(Some(&minter))?);
    let preview = Preview::from_flag(args.url.as_deref(), guard)?;
    let audience = args
        .call
        .audience(&client, &preview, ENDPOINT, None, &args.hosts)
        .await?;
    let called = call_endpoint(
        &client, &preview, &minter, ENDPOINT, &audience, &body, &args.call,
    )
    .await?;
    let cookie = called.answer["cookie"]
        .as_str()
        .ok_or_else(|| CliError::check(format!("{ENDPOINT} answered without a `cookie` string")))?;
    jwe::check(cookie)
        .map_err(|why| CliError::check(format!("the cookie is not a well-formed JWE: {why}")))?;
    let cookie = Secret::new(cookie);
    let expires = called.answer["expires"].as_i64();
    if expires.is_none() {
        actions::warning(&format!(
            "{ENDPOINT} gave no `expires`: the cookie is written as a session cookie (the server \
             predates cookie lifetimes)"
        ));
    }

    if let Some(path) = &state_file {
        let host = preview.base().host_str().unwrap_or_default().to_owned();
        let secure = preview.base().scheme() == "https";
        let mut cookies = vec![storage_state::override_cookie(
            &host,
            secure,
            cookie.clone(),
            expires,
        )];
        if !matches!(preview.guard(), Guard::None) {
            cookies.extend(storage_state::prime(&client, &preview, &host, secure).await?);
        }
        storage_state::write_private(path, &storage_state::render(&cookies))?;
        actions::progress(&format!(
            "wrote {} cookie(s) for {host} to {} (mode 0600)",
            cookies.len(),
            path.display()
        ));
        println!("{}", path.display());
    }
    if let Some((file, var)) = env_target {
        actions::write_var(file, var, cookie.expose())?;
        actions::progress(&format!("the override cookie is in ${var} for later steps"));
    }
    if state_file.is_none() && env_target.is_none() {
        println!(
            "{}",
            json!({ "cookie": cookie.expose(), "expires": expires })
        );
    }
    Ok(())
}
