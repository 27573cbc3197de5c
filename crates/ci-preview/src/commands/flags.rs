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

use reqwest::header::SET_COOKIE;
use serde_json::{Map, Value, json};

use crate::actions::{self, RunnerFiles};
use crate::endpoint::{CallArgs, call_endpoint};
use crate::error::{CliError, Result};
use crate::http::describe_transport;
use crate::minter::{IdTokenArgs, Minter};
use crate::preview::Preview;
use crate::protection::{Guard, ProtectionArgs};
use crate::secret::Secret;
use crate::storage_state::{self, Cookie};
use crate::{env, http, jwe, poll};

/// The endpoint that makes override cookies.
pub(crate) const ENDPOINT: &str = "flags/encrypt-override";
/// Header that asks Vercel to turn a bypass into a cookie (`true`: SameSite=Lax).
pub(crate) const SET_BYPASS_COOKIE: &str = "x-vercel-set-bypass-cookie";
/// The file name `--storage-state` uses in `$RUNNER_TEMP` when given no path.
pub(crate) const DEFAULT_STATE_FILE: &str = "ci-preview-storage-state.json";

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
    let flags = parse_flags(&args.flags)?;
    let state_file = args
        .storage_state
        .as_ref()
        .map(|p| state_path(p.as_deref(), &args))
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
        &client,
        &preview,
        &minter,
        ENDPOINT,
        &audience,
        &body,
        args.call.attempts,
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
            cookies.extend(prime(&client, &preview, &host, secure).await?);
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

/// The flags object: `NAME=VALUE` pairs and `@FILE` objects, each name at most once.
pub(crate) fn parse_flags(items: &[String]) -> Result<Map<String, Value>> {
    let mut flags = Map::new();
    let mut add = |name: &str, value: Value| -> Result<()> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(CliError::config(format!(
                "{name:?} is not a flag name: pass NAME=VALUE"
            )));
        }
        if flags.insert(name.to_owned(), value).is_some() {
            return Err(CliError::config(format!("flag {name:?} is given twice")));
        }
        Ok(())
    };
    for item in items {
        if let Some(path) = item.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .map_err(|err| CliError::config(format!("cannot read {path}: {err}")))?;
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) else {
                return Err(CliError::config(format!(
                    "{path} is not a JSON object of flag overrides"
                )));
            };
            for (name, value) in object {
                add(&name, value)?;
            }
            continue;
        }
        let (name, raw) = item.split_once('=').ok_or_else(|| {
            CliError::config(format!(
                "{item:?} is not NAME=VALUE (or @FILE with a JSON object)"
            ))
        })?;
        add(name.trim(), typed(raw))?;
    }
    Ok(flags)
}

/// `true`/`false`, numbers and JSON parse as such; anything else is the string itself.
fn typed(raw: &str) -> Value {
    serde_json::from_str(raw.trim()).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

fn state_path(given: Option<&std::path::Path>, args: &Args) -> Result<PathBuf> {
    if let Some(given) = given.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(given.to_owned());
    }
    let temp = args
        .runner_temp
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| {
            CliError::missing_var(
                "RUNNER_TEMP",
                "give --storage-state a FILE outside GitHub Actions",
            )
        })?;
    Ok(temp.join(DEFAULT_STATE_FILE))
}

/// One request that asks Vercel for its protection cookie; the `Set-Cookie`s of the answer
/// (usually a redirect, never followed), masked, scoped to the preview's host.
async fn prime(
    client: &reqwest::Client,
    preview: &Preview,
    host: &str,
    secure: bool,
) -> Result<Vec<Cookie>> {
    let response = client
        .get(preview.base().clone())
        .headers(preview.headers().await?)
        .header(SET_BYPASS_COOKIE, "true")
        .send()
        .await
        .map_err(|err| {
            CliError::check(format!(
                "the priming request to {} failed: {}",
                preview.origin(),
                describe_transport(&err)
            ))
        })?;
    let now = poll::unix_now();
    let cookies: Vec<Cookie> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| storage_state::parse_set_cookie(v, host, secure, now))
        .filter(|c| c.name != storage_state::OVERRIDE_COOKIE)
        .collect();
    for cookie in &cookies {
        actions::mask(cookie.value.expose());
    }
    if cookies.is_empty() {
        actions::warning(&format!(
            "the priming request got no protection cookie from {} (HTTP {}): the browser will meet \
             Deployment Protection unless the preview is unprotected",
            preview.origin(),
            response.status().as_u16()
        ));
    }
    Ok(cookies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn values_are_typed_like_the_vercel_cli() {
        let flags = parse_flags(&strings(&[
            "newCheckout=true",
            "off=false",
            "limit=42",
            "ratio=0.5",
            r#"variant={"a":1}"#,
            "list=[1,2]",
            "name=blue",
            r#"quoted="7""#,
            "empty=",
            "eq=a=b",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(flags),
            json!({"newCheckout": true, "off": false, "limit": 42, "ratio": 0.5,
                   "variant": {"a": 1}, "list": [1, 2], "name": "blue", "quoted": "7",
                   "empty": "", "eq": "a=b"})
        );
    }

    #[test]
    fn bad_items_name_the_fix() {
        for bad in [&["novalue"][..], &["=1"], &["a=1", "a=2"]] {
            let err = parse_flags(&strings(bad)).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::Config, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flags.json");
        std::fs::write(&file, r#"{"fromFile": true}"#).unwrap();
        let arg = format!("@{}", file.display());
        let flags = parse_flags(&[arg.clone(), "other=1".into()]).unwrap();
        assert_eq!(Value::Object(flags), json!({"fromFile": true, "other": 1}));
        std::fs::write(&file, "[1]").unwrap();
        assert!(parse_flags(&[arg]).is_err());
    }
}
