//! The browser: `examples/nextjs/e2e/visit.mjs` (playwright-core, Debian's Chromium) opens the
//! preview once per visit with a given `storageState` and reports the navigation, the marker
//! `<pre id="ci-preview-state">` and the cookies the browser kept. Judging is done here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::flags::{Result, failed};

/// One visit to plan.
pub(super) struct Visit {
    pub name: &'static str,
    pub state: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    /// Read `/api/auth/session` first, where Auth.js re-signs the session cookie.
    pub refresh_session: bool,
    /// Open the page no earlier than this (Unix seconds).
    pub not_before: Option<i64>,
}

/// What the browser saw on one visit.
#[derive(Debug)]
pub(super) struct Seen {
    /// The navigation's responses in order: `(status, location)`.
    pub responses: Vec<(u64, Option<String>)>,
    pub final_url: String,
    /// The marker's JSON, `None` when the page has none.
    pub marker: Option<Value>,
    /// The cookies the browser holds after the visit.
    pub cookies: Vec<Value>,
    pub error: Option<String>,
}

impl Seen {
    pub(super) fn cookie(&self, name: &str) -> Option<&Value> {
        self.cookies.iter().find(|c| c["name"] == name)
    }
}

/// Runs the visits in one browser; the results in the same order.
pub(super) async fn visit(
    example: &Path,
    work: &Path,
    url: &str,
    host: &str,
    leaf_certificate: &Path,
    visits: &[Visit],
) -> Result<Vec<Seen>> {
    let plan = json!({
        "url": url,
        "host": host,
        "leafCertificate": leaf_certificate,
        "visits": visits.iter().map(|v| json!({
            "name": v.name,
            "storageState": v.state,
            "screenshot": v.screenshot,
            "refreshSession": v.refresh_session,
            "notBefore": v.not_before,
        })).collect::<Vec<_>>(),
    });
    let plan_file = work.join("visits.json");
    std::fs::write(&plan_file, plan.to_string())
        .map_err(|e| failed(format!("{}: {e}", plan_file.display())))?;
    let out = tokio::process::Command::new("node")
        .arg("e2e/visit.mjs")
        .arg(&plan_file)
        .current_dir(example)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .map_err(|_| failed("the browser did not finish within 120 s"))?
        .map_err(|e| failed(format!("cannot run node: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(failed(format!(
            "e2e/visit.mjs exited with {}:\n{}{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| failed(format!("e2e/visit.mjs printed no report:\n{stdout}")))?;
    let seen = report["visits"]
        .as_array()
        .ok_or_else(|| failed("the report has no visits"))?
        .iter()
        .map(|v| Seen {
            responses: v["responses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["status"].as_u64().unwrap_or(0),
                        r["location"].as_str().map(str::to_owned),
                    )
                })
                .collect(),
            final_url: v["finalUrl"].as_str().unwrap_or_default().to_owned(),
            marker: Some(v["marker"].clone()).filter(|m| !m.is_null()),
            cookies: v["cookies"].as_array().cloned().unwrap_or_default(),
            error: v["error"].as_str().map(str::to_owned),
        })
        .collect::<Vec<_>>();
    if seen.len() != visits.len() {
        return Err(failed(format!(
            "asked for {} visits, the report has {}",
            visits.len(),
            seen.len()
        )));
    }
    Ok(seen)
}
