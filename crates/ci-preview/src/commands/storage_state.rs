//! `ci-preview storage-state`: everything a browser needs for this preview, in one Playwright
//! `storageState` file.
//!
//! The preview makes every cookie; the job only carries them to the file: the flag overrides
//! (`flags/encrypt-override`, `--flag`), a signed-in session (`auth/encrypt-session`, `--session`;
//! the cookie's name is the endpoint's, which follows Auth.js's rule) and the protection cookie
//! that lets the browser past Vercel's Deployment Protection: under `--protection oidc` the
//! preview exchanges its own bypass secret for it (`vercel/protection-cookie`), so CI holds no
//! secret; under `--protection bypass` the job's secret is exchanged by a priming request
//! (`x-vercel-set-bypass-cookie`). Every value is masked before anything is printed, the file is
//! mode 0600 (`$RUNNER_TEMP` by default) and stdout carries only its path.
//!
//! `--seal` hands the state to another job instead of a file: it is sealed with a fresh one-use
//! key and written to the step outputs (`crate::sealed_state`; the reusable
//! `.github/workflows/browser-state.yml` runs it, `open-state` opens it in the test job).
//!
//! `--local` is the same file for `next dev` on a developer's machine: the flag and session
//! cookies are sealed in-process from the app's own secrets (see `local_cookies`), for a loopback
//! URL only, with no protection cookie and no token.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::actions::{self, RunnerFiles};
use crate::answer_cookies::{
    PROTECTION_ENDPOINT, SESSION_ENDPOINT, masked, protection_cookie, session_cookie,
};
use crate::endpoint::{CallArgs, call_endpoint};
use crate::error::{CliError, Result};
use crate::minter::{IdTokenArgs, Minter};
use crate::preview::Preview;
use crate::protection::{Guard, Mode, ProtectionArgs};
use crate::sealed_state::{self, StateKey};
use crate::secret::Secret;
use crate::storage_state::{self, Cookie};
use crate::{env, http, jwe, overrides};

/// The endpoint that makes override cookies.
const FLAGS_ENDPOINT: &str = "flags/encrypt-override";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A flag override as NAME=VALUE (repeatable), typed like `ci-preview flags`: `true`/`false`,
    /// numbers and JSON parse as such, anything else is a string; `@FILE` reads a JSON object.
    #[arg(long = "flag", value_name = "NAME=VALUE")]
    pub flags: Vec<String>,
    /// The session's claims as a JSON object (or @FILE), sent to auth/encrypt-session.
    #[arg(long, value_name = "JSON")]
    pub session: Option<String>,
    /// Lifetime to ask for the flag and session cookies, e.g. 30m (sent as "maxAge"; each
    /// endpoint refuses more than its `cookie_max_age`) [default: the endpoints' own].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub expires_in: Option<Duration>,
    /// The file to write (mode 0600) [default: $RUNNER_TEMP/ci-preview-storage-state.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The preview URL (from `ci-preview discover`).
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// Attempts per endpoint for network errors and 5xx answers, at most 5.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=5), value_name = "N")]
    pub attempts: u32,
    /// The runner's temporary folder (set by the runner).
    #[arg(long, env = env::RUNNER_TEMP, hide = true)]
    pub runner_temp: Option<PathBuf>,
    /// Seal the flag and session cookies on this machine from FLAGS_SECRET and AUTH_SECRET
    /// (environment, else .env.local here) for `next dev` on a loopback URL: no token, no
    /// protection cookie. Refused for any other URL.
    #[arg(long)]
    pub local: bool,
    /// Seal the state for another job instead of writing a file: step outputs `state` (the sealed
    /// blob, safe in logs), `state-key` (its one-use key: hand it on only through a called
    /// workflow's `secrets:`) and `preview-url`; `open-state` opens it. Needs $GITHUB_OUTPUT;
    /// refused while runner debug logging is on (the runner would print the outputs).
    #[arg(long, conflicts_with_all = ["out", "local"])]
    pub seal: bool,
    /// `1` when the run has debug logging on (set by the runner).
    #[arg(long, env = env::RUNNER_DEBUG, hide = true)]
    pub runner_debug: Option<String>,
    #[command(flatten)]
    pub files: RunnerFiles,
    #[command(flatten)]
    pub hosts: crate::hosts::HostArgs,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[command(flatten)]
    pub id_token: IdTokenArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    // Everything the job can get wrong is checked before a request.
    let flags = if args.flags.is_empty() {
        None
    } else {
        Some(overrides::parse(&args.flags)?)
    };
    let session = args.session.as_deref().map(parse_session).transpose()?;
    let max_age = match args.expires_in {
        Some(lifetime) if lifetime < Duration::from_secs(1) => {
            return Err(CliError::config("--expires-in must be at least 1s"));
        }
        lifetime => lifetime.map(|l| l.as_secs()),
    };
    if args.local {
        return run_local(&args, flags, session, max_age);
    }
    if flags.is_none() && session.is_none() && args.protection.protection == Mode::None {
        return Err(CliError::config(
            "nothing to write: pass --flag NAME=VALUE, --session JSON, or a --protection mode \
             other than none",
        ));
    }
    let sink = if args.seal {
        Sink::Sealed(seal_output(&args)?.to_path_buf())
    } else {
        Sink::File(out_path(&args)?)
    };

    let client = http::client()?;
    let minter = Minter::new(&args.id_token, client.clone())?;
    let guard = Arc::new(args.protection.guard(Some(&minter))?);
    let preview = Preview::from_flag(args.url.as_deref(), guard)?;
    let host = preview.base().host_str().unwrap_or_default().to_owned();
    let secure = preview.base().scheme() == "https";
    let call_args = CallArgs {
        audience: None,
        attempts: args.attempts,
        // The three endpoints it calls are cookie endpoints, safe to repeat anyway.
        idempotent: false,
    };
    let call = |endpoint: &'static str, body: Value| {
        let (client, preview, minter, call_args) = (&client, &preview, &minter, &call_args);
        let hosts = &args.hosts;
        async move {
            let audience = call_args
                .audience(client, preview, endpoint, None, hosts)
                .await?;
            let called = call_endpoint(
                client, preview, minter, endpoint, &audience, &body, call_args,
            )
            .await?;
            Ok::<Value, CliError>(called.answer)
        }
    };

    let mut cookies = Vec::new();
    if let Some(flags) = flags {
        let mut body = json!({ "flags": flags });
        if let Some(seconds) = max_age {
            body["maxAge"] = seconds.into();
        }
        let answer = call(FLAGS_ENDPOINT, body).await?;
        let value = answer["cookie"].as_str().ok_or_else(|| {
            CliError::check(format!(
                "{FLAGS_ENDPOINT} answered without a `cookie` string"
            ))
        })?;
        jwe::check(value).map_err(|why| {
            CliError::check(format!(
                "the override cookie is not a well-formed JWE: {why}"
            ))
        })?;
        cookies.push(storage_state::override_cookie(
            &host,
            secure,
            masked(value),
            answer["expires"].as_i64(),
        ));
    }
    if let Some(session) = session {
        let mut body = json!({ "session": session });
        if let Some(seconds) = max_age {
            body["maxAge"] = seconds.into();
        }
        let answer = call(SESSION_ENDPOINT, body).await?;
        cookies.push(session_cookie(&answer, &host, secure)?);
    }
    match preview.guard() {
        Guard::None => {}
        Guard::Bypass(_) => {
            cookies.extend(storage_state::prime(&client, &preview, &host, secure).await?);
        }
        // `auto` asks only a preview that answered like Vercel's protection.
        Guard::Oidc(_)
            if args.protection.protection == Mode::Auto && !preview.guard().sends_credentials() => {
        }
        Guard::Oidc(_) => {
            let answer = call(PROTECTION_ENDPOINT, json!({})).await?;
            match protection_cookie(&answer, &host, secure)? {
                Some(cookie) => cookies.push(cookie),
                None => actions::warning(&format!(
                    "{PROTECTION_ENDPOINT} answered that {} is not protected: no protection \
                     cookie is written",
                    preview.origin()
                )),
            }
        }
    }
    match sink {
        Sink::File(path) => finish(&path, &cookies, &host),
        Sink::Sealed(output) => finish_sealed(&output, &cookies, &preview),
    }
}

/// Where the state goes: a 0600 file, or sealed into the step outputs.
enum Sink {
    File(PathBuf),
    Sealed(PathBuf),
}

/// `--seal`'s preconditions, checked before any request.
fn seal_output(args: &Args) -> Result<&std::path::Path> {
    if args.runner_debug.as_deref() == Some("1") {
        return Err(CliError::config(
            "--seal refuses to run with debug logging on: the runner prints every step output \
             (the state key included) to the log in debug mode. Re-run without debug logging",
        ));
    }
    args.files.output_file()
}

/// Seals the state with a fresh key and writes `state`, `state-key` and `preview-url` to the step
/// outputs. The key is not masked on purpose: the runner drops a job output that contains a
/// masked value, and the key would never reach the test job. It is printed nowhere; the caller
/// passes it on only through `secrets:`, where the runner masks it.
fn finish_sealed(output: &std::path::Path, cookies: &[Cookie], preview: &Preview) -> Result<()> {
    let origin = preview.base().origin().ascii_serialization();
    let key = StateKey::generate()?;
    let state = Secret::new(storage_state::render(cookies));
    let blob = sealed_state::seal(state.expose(), &origin, &key)?;
    actions::write_output(output, "state", &blob)?;
    actions::write_output(output, "state-key", key.encode().expose())?;
    actions::write_output(output, "preview-url", &preview.origin())?;
    let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    actions::progress(&format!(
        "sealed {} cookie(s) for {origin} ({}) into the step outputs `state` and `state-key` \
         (format v{}; open them with `ci-preview open-state` in the test job)",
        cookies.len(),
        names.join(", "),
        sealed_state::VERSION
    ));
    Ok(())
}

/// `--local`: the cookies sealed here, written like the preview's.
fn run_local(
    args: &Args,
    flags: Option<serde_json::Map<String, Value>>,
    session: Option<Value>,
    max_age: Option<u64>,
) -> Result<()> {
    let raw = args
        .url
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            CliError::config(
                "--local needs --url, the app's loopback URL, e.g. http://localhost:3000",
            )
        })?;
    let url = url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| CliError::config("--url is not an http(s) URL"))?;
    crate::local_cookies::require_loopback(&url)?;
    let session = object(session);
    if flags.is_none() && session.is_none() {
        return Err(CliError::config(
            "nothing to write: --local needs --flag NAME=VALUE or --session JSON (it writes no \
             protection cookie)",
        ));
    }
    let path = out_path(args)?;
    let dir = std::env::current_dir()
        .map_err(|err| CliError::config(format!("cannot read the working directory: {err}")))?;
    let cookies =
        crate::local_cookies::cookies(&url, flags.as_ref(), session.as_ref(), max_age, &dir)?;
    for cookie in &cookies {
        actions::mask(cookie.value.expose());
    }
    finish(&path, &cookies, url.host_str().unwrap_or_default())
}

fn object(value: Option<Value>) -> Option<serde_json::Map<String, Value>> {
    match value {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn finish(path: &std::path::Path, cookies: &[Cookie], host: &str) -> Result<()> {
    storage_state::write_private(path, &storage_state::render(cookies))?;
    let names: Vec<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    actions::progress(&format!(
        "wrote {} cookie(s) for {host} ({}) to {} (mode 0600)",
        cookies.len(),
        names.join(", "),
        path.display()
    ));
    println!("{}", path.display());
    Ok(())
}

fn parse_session(raw: &str) -> Result<Value> {
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| CliError::config(format!("cannot read --session file {path}: {err}")))?,
        None => raw.to_owned(),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(claims @ Value::Object(_)) => Ok(claims),
        // The claims may be sensitive: say what is wrong, never echo them.
        _ => Err(CliError::config(
            "--session is not a JSON object of claims, e.g. --session '{\"sub\":\"e2e-user\"}'",
        )),
    }
}

fn out_path(args: &Args) -> Result<PathBuf> {
    storage_state::file_path(
        args.out.as_deref(),
        args.runner_temp.as_deref(),
        "give --out FILE outside GitHub Actions",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_must_be_an_object_and_is_never_echoed() {
        assert!(parse_session(r#"{"sub":"u"}"#).is_ok());
        let err = parse_session(r#"["hunter2"]"#).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Config);
        assert!(!err.message.contains("hunter2"));
    }
}
