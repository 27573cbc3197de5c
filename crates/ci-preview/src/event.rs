//! What the triggering event (`GITHUB_EVENT_PATH`) tells the client: the pull request, its head
//! commit, or the deployment a `deployment_status` event is about.
//!
//! The head commit matters because `GITHUB_SHA` on a pull request is the *merge* commit, which no
//! preview ever serves. The client reads the head from the payload (or asks the pulls API) and never
//! uses `GITHUB_SHA`.

use std::path::Path;

use serde_json::Value;

use crate::error::{CliError, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Event {
    pub name: Option<String>,
    /// `pull_request.number`, or `issue.number` when the issue is a pull request.
    pub pr_number: Option<u64>,
    /// `pull_request.head.sha`, `deployment.sha`, or a push's `after`.
    pub head_sha: Option<String>,
    /// Present on a `deployment_status` event.
    pub deployment_status: Option<DeploymentStatusEvent>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeploymentStatusEvent {
    pub state: String,
    /// `deployment.creator.login`: who made the deployment (the trust decision of `discover`).
    pub creator: Option<String>,
    /// `deployment_status.creator.login`: who posted this status, with its URL. Anyone with
    /// `deployments: write` can post a status on the deploy bot's deployment, so it is checked
    /// too.
    pub status_creator: Option<String>,
    /// `deployment_status.performed_via_github_app.slug`, when GitHub names the app.
    pub status_app: Option<String>,
    pub environment: Option<String>,
    pub environment_url: Option<String>,
    pub target_url: Option<String>,
}

impl DeploymentStatusEvent {
    /// `environment_url`, else `target_url`: the same rule as the Deployments API source.
    pub(crate) fn url(&self) -> Option<&str> {
        self.environment_url
            .as_deref()
            .or(self.target_url.as_deref())
    }
}

impl Event {
    /// Reads the payload, if the runner gave one. A missing path is not an error (a local run);
    /// an unreadable or invalid file is (the job is broken).
    pub(crate) fn load(path: Option<&Path>, name: Option<&str>) -> Result<Self> {
        let name = name.map(str::to_owned).filter(|n| !n.is_empty());
        let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) else {
            return Ok(Self {
                name,
                ..Self::default()
            });
        };
        let text = std::fs::read_to_string(path).map_err(|err| {
            CliError::config(format!(
                "cannot read GITHUB_EVENT_PATH {}: {err}",
                path.display()
            ))
        })?;
        let payload: Value = serde_json::from_str(&text).map_err(|err| {
            CliError::config(format!(
                "GITHUB_EVENT_PATH {} is not JSON: {err}",
                path.display()
            ))
        })?;
        Ok(Self::from_payload(name, &payload))
    }

    pub(crate) fn from_payload(name: Option<String>, payload: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
        let deployment_status = (name.as_deref() == Some("deployment_status")
            || payload.get("deployment_status").is_some())
        .then(|| payload.get("deployment_status"))
        .flatten()
        .filter(|s| s.is_object())
        .map(|status| DeploymentStatusEvent {
            state: text(&status["state"]).unwrap_or_default(),
            creator: text(&payload["deployment"]["creator"]["login"]),
            status_creator: text(&status["creator"]["login"]),
            status_app: text(&status["performed_via_github_app"]["slug"]),
            environment: text(&status["environment"])
                .or_else(|| text(&payload["deployment"]["environment"])),
            environment_url: text(&status["environment_url"]),
            target_url: text(&status["target_url"]),
        });
        let pr_number = payload["pull_request"]["number"].as_u64().or_else(|| {
            payload["issue"]
                .get("pull_request")
                .and_then(|_| payload["issue"]["number"].as_u64())
        });
        let head_sha = text(&payload["pull_request"]["head"]["sha"])
            .or_else(|| text(&payload["deployment"]["sha"]))
            .or_else(|| {
                (name.as_deref() == Some("push"))
                    .then(|| text(&payload["after"]))
                    .flatten()
                    .filter(|sha| sha.bytes().any(|b| b != b'0'))
            });
        Self {
            name,
            pr_number,
            head_sha,
            deployment_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_request_gives_number_and_head_not_merge() {
        let event = Event::from_payload(
            Some("pull_request".into()),
            &json!({"number": 7, "pull_request": {"number": 7, "head": {"sha": "abc"}, "merge_commit_sha": "zzz"}}),
        );
        assert_eq!(event.pr_number, Some(7));
        assert_eq!(event.head_sha.as_deref(), Some("abc"));
        assert!(event.deployment_status.is_none());
    }

    #[test]
    fn deployment_status_gives_url_and_sha() {
        let event = Event::from_payload(
            Some("deployment_status".into()),
            &json!({
                "deployment_status": {"state": "success", "environment_url": "", "target_url": "https://t.vercel.app"},
                "deployment": {"sha": "def", "environment": "Preview"}
            }),
        );
        let status = event.deployment_status.unwrap();
        assert_eq!(status.url(), Some("https://t.vercel.app"));
        assert_eq!(status.environment.as_deref(), Some("Preview"));
        assert_eq!(event.head_sha.as_deref(), Some("def"));
    }

    #[test]
    fn issue_comment_on_a_pull_request() {
        let event = Event::from_payload(
            Some("issue_comment".into()),
            &json!({"issue": {"number": 9, "pull_request": {"url": "x"}}}),
        );
        assert_eq!(event.pr_number, Some(9));
        let plain_issue = Event::from_payload(
            Some("issue_comment".into()),
            &json!({"issue": {"number": 9}}),
        );
        assert_eq!(plain_issue.pr_number, None);
    }

    #[test]
    fn push_uses_after_but_not_a_branch_deletion() {
        let push = Event::from_payload(Some("push".into()), &json!({"after": "123abc"}));
        assert_eq!(push.head_sha.as_deref(), Some("123abc"));
        let deleted = Event::from_payload(Some("push".into()), &json!({"after": "0000000000"}));
        assert_eq!(deleted.head_sha, None);
    }

    #[test]
    fn a_missing_path_is_a_local_run() {
        let event = Event::load(None, Some("workflow_dispatch")).unwrap();
        assert_eq!(event.name.as_deref(), Some("workflow_dispatch"));
        assert_eq!(event.pr_number, None);
    }
}
