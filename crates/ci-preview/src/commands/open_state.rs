//! `ci-preview open-state`: the test job's half of the sealed handoff. It opens the state that
//! `storage-state --seal` sealed in the job that could mint tokens (the reusable
//! `browser-state.yml`) and writes the Playwright `storageState` file the tests load.
//!
//! The test job holds no `id-token` and makes no request: this command only decrypts and writes.
//! The key arrives through the called workflow's `secrets:`, so the runner masks it; the command
//! masks it again, and every cookie value, before it prints anything, and prints only the file's
//! path on stdout. See `crate::sealed_state` for the format and system-docs/BROWSER-STATE.md for
//! why the handoff has this shape.

use std::path::PathBuf;

use protection_cookie::set_cookie::is_cookie_text;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::preview::parse_preview_url;
use crate::sealed_state::{self, StateKey};
use crate::secret::Secret;
use crate::{actions, env, storage_state};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The sealed state: the browser-state workflow's `state` output.
    #[arg(long, env = env::CI_PREVIEW_STATE, hide_env_values = true, value_name = "BLOB")]
    pub state: Option<String>,
    /// Its key: the `state-key` output, passed to the test workflow through `secrets:`. Give it
    /// in the variable, not on the command line, where the process list shows it.
    #[arg(long, env = env::CI_PREVIEW_STATE_KEY, hide_env_values = true, value_name = "KEY")]
    pub key: Option<Secret>,
    /// The preview URL the state was sealed for (the browser-state workflow's `preview-url`).
    #[arg(long, env = env::PREVIEW_URL, value_name = "URL")]
    pub url: Option<String>,
    /// The file to write (mode 0600) [default: $RUNNER_TEMP/ci-preview-storage-state.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The runner's temporary folder (set by the runner).
    #[arg(long, env = env::RUNNER_TEMP, hide = true)]
    pub runner_temp: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let key_text = args.key.unwrap_or_else(|| Secret::new(""));
    // Masked before anything can print: a key passed some other way than `secrets:` is covered
    // from here on (the step's header has already shown it, which is why the docs say secrets).
    actions::mask(key_text.expose());
    let key = StateKey::parse(key_text.expose())?;
    let url = env::required(
        args.url.as_deref(),
        env::PREVIEW_URL,
        "pass the browser-state workflow's `preview-url` output (or --url): the state opens \
         only for the preview it was sealed for",
    )?;
    let url = parse_preview_url(url)?;
    let origin = url.origin().ascii_serialization();
    let host = url.host_str().unwrap_or_default().to_owned();
    let path = storage_state::file_path(
        args.out.as_deref(),
        args.runner_temp.as_deref(),
        "give --out FILE outside GitHub Actions",
    )?;
    let state = sealed_state::open(args.state.as_deref().unwrap_or_default(), &origin, &key)?;
    let names = check_state(&state, &host)?;
    storage_state::write_private(&path, state.expose())?;
    actions::progress(&format!(
        "opened {} cookie(s) for {origin} ({}) into {} (mode 0600)",
        names.len(),
        names.join(", "),
        path.display()
    ));
    println!("{}", path.display());
    Ok(())
}

/// The opened state must be a storageState whose cookies are all for the preview's host; every
/// value is masked before anything is printed. Returns the cookies' names.
fn check_state(state: &Secret, host: &str) -> Result<Vec<String>> {
    let bad = || {
        CliError::check(
            "the opened state is not a storageState for this preview's host: seal and open it \
             with the same ci-in-preview release",
        )
    };
    let parsed: Value = serde_json::from_str(state.expose()).map_err(|_| bad())?;
    let cookies = parsed["cookies"].as_array().ok_or_else(bad)?;
    let mut names = Vec::with_capacity(cookies.len());
    for cookie in cookies {
        let value = cookie["value"].as_str().ok_or_else(bad)?;
        actions::mask(value);
        let name = cookie["name"]
            .as_str()
            .filter(|n| !n.is_empty() && is_cookie_text(n))
            .ok_or_else(bad)?;
        if cookie["domain"].as_str() != Some(host) {
            return Err(bad());
        }
        names.push(name.to_owned());
    }
    Ok(names)
}
