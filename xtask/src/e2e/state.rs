//! The CI steps: `ci-preview` (the release client, built from this checkout) makes the browser's
//! Playwright `storageState` for the preview as the two jobs of the README's e2e workflow do. The
//! minting job (`.github/workflows/browser-state.yml`) seals it into step outputs
//! (`storage-state --seal`), and the test job, with no token service in its environment, opens it
//! (`open-state`): the browser loads what crossed the sealed handoff.
//!
//! The job's token service is the mock GitHub's, so tokens come from the mock issuer; the preview's
//! hostname is reached through the run's resolver (`HTTPS_PROXY`) and its certificate checked
//! against the run's CA (`SSL_CERT_FILE`), as a runner checks a real preview's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::flags::{Result, failed};

/// The test user's name and e-mail; the subject is `--user`.
pub(super) const USER_NAME: &str = "E2E Test User";
pub(super) const USER_EMAIL: &str = "e2e@example.test";

/// How the browser passes Deployment Protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protection {
    /// The preview answers for itself (`vercel/protection-cookie`), the job holds no secret.
    Oidc,
    /// The preview is not protected.
    None,
}

/// `ci-preview` with a GitHub Actions job's environment.
pub(super) struct Client {
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Client {
    /// Runs with `extra` added to the job's environment; stdout and stderr.
    async fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<(String, String)> {
        let out = tokio::process::Command::new(&self.binary)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .map_err(|_| failed("ci-preview did not finish within 60 s"))?
            .map_err(|e| failed(format!("cannot run ci-preview: {e}")))?;
        if !out.status.success() {
            return Err(failed(format!(
                "ci-preview {} exited with {}:\n{}",
                args.first().copied().unwrap_or_default(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok((
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// The test job's client: the same binary without the token service (no `id-token`).
    fn without_id_token(&self) -> Client {
        Client {
            binary: self.binary.clone(),
            env: self
                .env
                .iter()
                .filter(|(k, _)| !k.starts_with("ACTIONS_ID_TOKEN_REQUEST_"))
                .cloned()
                .collect(),
        }
    }
}

/// What the state asks for.
pub(super) struct Request<'a> {
    pub url: &'a str,
    /// `--flag` values as given (`NAME=VALUE`).
    pub flags: &'a [String],
    pub user: &'a str,
    /// A shorter lifetime than the policy's, in seconds.
    pub expires_in: Option<u64>,
    pub protection: Protection,
}

/// The session `auth/encrypt-session` is asked for.
pub(super) fn session(user: &str) -> Value {
    json!({"sub": user, "name": USER_NAME, "email": USER_EMAIL})
}

/// Runs `ci-preview storage-state --seal` as browser-state.yml does, then `open-state` as the
/// test job does, and returns the file the test job wrote to `out`.
///
/// `flags/encrypt-override`, `auth/encrypt-session` and, when protected,
/// `vercel/protection-cookie` are called through the edge with a fresh Trusted Sources token
/// (`--protection oidc`), so the job holds no bypass secret. The sealing job prints neither the
/// key nor the sealed state; the test job prints only the file's path.
pub(super) async fn write(client: &Client, request: &Request<'_>, out: &Path) -> Result<Value> {
    let protection = match request.protection {
        Protection::Oidc => "oidc",
        Protection::None => "none",
    };
    let session = session(request.user).to_string();
    let expires_in = request.expires_in.map(|s| format!("{s}s"));
    let mut args = vec![
        "storage-state",
        "--seal",
        "--url",
        request.url,
        "--protection",
        protection,
        "--session",
        &session,
    ];
    for flag in request.flags {
        args.extend(["--flag", flag.as_str()]);
    }
    if let Some(expires_in) = &expires_in {
        args.extend(["--expires-in", expires_in.as_str()]);
    }
    let outputs_file = out.with_extension("outputs");
    let _ = std::fs::remove_file(&outputs_file);
    let outputs_path = outputs_file.display().to_string();
    let (printed, log) = client
        .run(&args, &[("GITHUB_OUTPUT", outputs_path.as_str())])
        .await?;
    let outputs = std::fs::read_to_string(&outputs_file)
        .map_err(|e| failed(format!("{outputs_path}: {e}")))?;
    let output = |name: &str| {
        outputs
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| failed(format!("storage-state --seal wrote no `{name}` output")))
    };
    let (sealed, key, preview_url) = (
        output("state")?,
        output("state-key")?,
        output("preview-url")?,
    );
    if !printed.is_empty() || log.contains(key) || log.contains(sealed) {
        return Err(failed(
            "ci-preview storage-state --seal printed its key or state (or anything on stdout)",
        ));
    }
    let out_arg = format!("--out={}", out.display());
    let (printed, _) = client
        .without_id_token()
        .run(
            &["open-state", &out_arg],
            &[
                ("CI_PREVIEW_STATE", sealed),
                ("CI_PREVIEW_STATE_KEY", key),
                ("PREVIEW_URL", preview_url),
            ],
        )
        .await?;
    if printed.trim() != out.display().to_string() {
        return Err(failed(
            "ci-preview open-state printed something other than the file's path",
        ));
    }
    let text =
        std::fs::read_to_string(out).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let state: Value = serde_json::from_str(&text)
        .map_err(|e| failed(format!("{} is not JSON: {e}", out.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out)
            .map_err(|e| failed(format!("{}: {e}", out.display())))?
            .permissions()
            .mode()
            & 0o777;
        if mode != 0o600 {
            return Err(failed(format!(
                "{} has mode {mode:o}, not 600",
                out.display()
            )));
        }
    }
    let protected = state["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(super::checks::is_protection_cookie);
    if request.protection == Protection::Oidc && !protected {
        return Err(failed(
            "ci-preview storage-state wrote no protection cookie for a protected preview",
        ));
    }
    Ok(state)
}

/// A copy of `state` with only the cookies `keep` accepts.
pub(super) fn filtered(state: &Value, keep: impl Fn(&Map<String, Value>) -> bool) -> Value {
    let cookies: Vec<Value> = state["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c.as_object().is_some_and(&keep))
        .cloned()
        .collect();
    json!({"cookies": cookies, "origins": []})
}

/// A copy of `state` whose cookies the browser keeps for another hour: what a state file copied
/// into a later run, or a browser that ignores `expires`, would still send.
pub(super) fn kept_past_expiry(state: &Value, now: i64) -> Value {
    let mut state = state.clone();
    for cookie in state["cookies"].as_array_mut().into_iter().flatten() {
        cookie["expires"] = json!(now + 3600);
    }
    state
}

/// The latest `expires` of the cookies named in `names`.
pub(super) fn latest_expiry(state: &Value, names: &[&str]) -> Option<i64> {
    state["cookies"]
        .as_array()?
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| names.contains(&n)))
        .filter_map(|c| c["expires"].as_i64())
        .max()
}
