//! The CI step: `ci-preview` (the release client, built from this checkout) writes the browser's
//! Playwright `storageState` for the preview, in the environment a GitHub Actions job gives it.
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
    pub(super) async fn run(&self, args: &[&str]) -> Result<String> {
        let out = tokio::process::Command::new(&self.binary)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

/// Runs `ci-preview storage-state` as a CI step would and returns the file it wrote to `out`.
///
/// `flags/encrypt-override`, `auth/encrypt-session` and, when protected,
/// `vercel/protection-cookie` are called through the edge with a fresh Trusted Sources token
/// (`--protection oidc`), so the job holds no bypass secret. The command prints only the path.
pub(super) async fn write(client: &Client, request: &Request<'_>, out: &Path) -> Result<Value> {
    let protection = match request.protection {
        Protection::Oidc => "oidc",
        Protection::None => "none",
    };
    let session = session(request.user).to_string();
    let out_arg = format!("--out={}", out.display());
    let expires_in = request.expires_in.map(|s| format!("{s}s"));
    let mut args = vec![
        "storage-state",
        "--url",
        request.url,
        "--protection",
        protection,
        "--session",
        &session,
        &out_arg,
    ];
    for flag in request.flags {
        args.extend(["--flag", flag.as_str()]);
    }
    if let Some(expires_in) = &expires_in {
        args.extend(["--expires-in", expires_in.as_str()]);
    }
    let printed = client.run(&args).await?;
    if printed.trim() != out.display().to_string() {
        return Err(failed(
            "ci-preview storage-state printed something other than the file's path",
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
