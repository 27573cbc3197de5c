//! One endpoint's policy: who may call it (the `[endpoints."NAME"]` table of `ci-policy.toml`).
//!
//! The policy is reviewed like code, so a mistake in it must stop the server at start-up
//! rather than quietly allow or deny everything: [`EndpointPolicy::validate`] names the key
//! that is wrong. The checks themselves live in [`crate::github::checks`].

use serde::Deserialize;

/// Events allowed when the policy has no `events` list: the ones this pattern is for (a pull
/// request's smoke, a manual run, a branch preview's push). An allowlist, not a denylist: the
/// events that run with the base repository's secrets on behalf of outside code or text
/// (`pull_request_target`, `workflow_run`, `issue_comment`, `issues`, `discussion_comment`, …) and
/// unattended ones (`schedule`) are refused unless a policy lists them, and an empty
/// `event_name` never matches.
pub const DEFAULT_EVENTS: &[&str] = &["pull_request", "push", "workflow_dispatch"];

/// `cookie_max_age` when the policy does not say: two hours, the length of a long CI run. A CI
/// cookie ends up in traces, HAR files and reports, so it should not outlive the run that made it.
pub const DEFAULT_COOKIE_MAX_AGE_SECS: u64 = 7200;
/// The smallest `cookie_max_age` a policy may set (a minute: anything shorter is a typo).
pub const MIN_COOKIE_MAX_AGE_SECS: u64 = 60;
/// The largest `cookie_max_age` a policy may set: a day. A CI cookie never needs more.
pub const MAX_COOKIE_MAX_AGE_SECS: u64 = 86_400;

fn default_cookie_max_age() -> u64 {
    DEFAULT_COOKIE_MAX_AGE_SECS
}

/// How to find the ids a policy pins; every error about them says it.
pub const OWNER_IDS_HOWTO: &str = "find them with `gh api repos/OWNER/REPO --jq '.id, .owner.id'` \
     (the first line is the repository_id, the second the repository_owner_id)";

/// Which claim names the workflow the policy pins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowClaim {
    /// `workflow_ref`: the top-level workflow of the run (default).
    #[default]
    WorkflowRef,
    /// `job_workflow_ref`: the reusable workflow the job runs in.
    JobWorkflowRef,
}

impl WorkflowClaim {
    /// The claim's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkflowRef => "workflow_ref",
            Self::JobWorkflowRef => "job_workflow_ref",
        }
    }
}

/// Who may call one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPolicy {
    /// The one `aud` value tokens must carry.
    pub audience: String,
    /// `owner/name` of allowed repositories (ASCII case-insensitive).
    pub repositories: Vec<String>,
    /// Optional `repository_id` pins (survive renames and re-creations); empty = not pinned.
    #[serde(default)]
    pub repository_ids: Vec<String>,
    /// `repository_owner_id` pins, required: an owner name can be deleted and registered again
    /// by someone else ("account resurrection"), its numeric id cannot. See [`OWNER_IDS_HOWTO`].
    #[serde(default)]
    pub repository_owner_ids: Vec<String>,
    /// `owner/repo/.github/workflows/file.yaml` entries; required, matched exactly at the token's
    /// own `ref`/`sha`. An entry may name its ref itself (`…/file.yaml@refs/heads/main` or
    /// `…/file.yaml@<40-hex sha>`): it then matches only that exact claim, which is how a
    /// reusable workflow is pinned to reviewed contents (see [`pinned_entry`]). With
    /// `job_workflow_ref`, a bare entry matches only the calling repository's own workflow at the
    /// run's `ref` (never `job_workflow_sha`, a commit the caller chooses), and an entry from
    /// another repository must name its ref (refused at start-up otherwise).
    pub workflows: Vec<String>,
    /// Allowed `event_name`s; `None` = [`DEFAULT_EVENTS`].
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Which claim the `workflows` entries are matched against.
    #[serde(default)]
    pub workflow_claim: WorkflowClaim,
    /// Require a `jti` and refuse any second use of it (replay protection).
    #[serde(default)]
    pub single_use: bool,
    /// Accept a token only on the deployment of its own run's pull request or branch.
    #[serde(default)]
    pub bind_deployment: bool,
    /// Seconds a cookie issued by this endpoint lives at most (requests may ask for less with
    /// `maxAge`); [`MIN_COOKIE_MAX_AGE_SECS`]..=[`MAX_COOKIE_MAX_AGE_SECS`], default
    /// [`DEFAULT_COOKIE_MAX_AGE_SECS`].
    #[serde(default = "default_cookie_max_age")]
    pub cookie_max_age: u64,
}

/// A policy that must not be served; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyError {
    /// The key at fault, e.g. `workflows` or `repository_ids[1]`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl EndpointPolicy {
    /// A policy for `repository`'s `workflow` with every optional key at its default.
    pub fn new(
        audience: impl Into<String>,
        repository: impl Into<String>,
        workflow: impl Into<String>,
    ) -> Self {
        Self {
            audience: audience.into(),
            repositories: vec![repository.into()],
            repository_ids: Vec::new(),
            repository_owner_ids: Vec::new(),
            workflows: vec![workflow.into()],
            events: None,
            workflow_claim: WorkflowClaim::WorkflowRef,
            single_use: false,
            bind_deployment: false,
            cookie_max_age: DEFAULT_COOKIE_MAX_AGE_SECS,
        }
    }

    /// Refuses empty or malformed values; the error names the key.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.audience.is_empty() || has_space(&self.audience) {
            return Err(PolicyError::new(
                "audience",
                "must be one non-empty string without whitespace",
            ));
        }
        non_empty("repositories", &self.repositories)?;
        for (i, repo) in self.repositories.iter().enumerate() {
            let ok = repo.split_once('/').is_some_and(|(owner, name)| {
                !owner.is_empty() && !name.is_empty() && !name.contains('/')
            });
            if !ok || has_space(repo) {
                return Err(PolicyError::new(
                    format!("repositories[{i}]"),
                    "must be \"owner/name\"",
                ));
            }
        }
        if self.repository_owner_ids.is_empty() {
            return Err(PolicyError::new(
                "repository_owner_ids",
                format!(
                    "required: pin the owner of every allowed repository by its numeric id, so a \
                     deleted and re-registered owner name cannot take its place; {OWNER_IDS_HOWTO}"
                ),
            ));
        }
        digits("repository_ids", &self.repository_ids)?;
        digits("repository_owner_ids", &self.repository_owner_ids)?;
        non_empty("workflows", &self.workflows)?;
        for (i, entry) in self.workflows.iter().enumerate() {
            check_workflow(entry).map_err(|m| PolicyError::new(format!("workflows[{i}]"), m))?;
            if self.workflow_claim == WorkflowClaim::JobWorkflowRef
                && pinned_entry(entry).is_none()
                && !self
                    .repositories
                    .iter()
                    .any(|repo| entry_repository(entry).eq_ignore_ascii_case(repo))
            {
                return Err(PolicyError::new(
                    format!("workflows[{i}]"),
                    "with workflow_claim = \"job_workflow_ref\", an entry from a repository not \
                     in `repositories` must name its ref (FILE.yml@refs/heads/BRANCH, @refs/tags/TAG \
                     or @<40-hex commit sha>): a bare entry matches only a reusable workflow of \
                     the calling repository at the run's own ref, never a commit the caller picks",
                ));
            }
        }
        if !(MIN_COOKIE_MAX_AGE_SECS..=MAX_COOKIE_MAX_AGE_SECS).contains(&self.cookie_max_age) {
            return Err(PolicyError::new(
                "cookie_max_age",
                format!(
                    "must be between {MIN_COOKIE_MAX_AGE_SECS} and {MAX_COOKIE_MAX_AGE_SECS} \
                     seconds (a minute to a day; default {DEFAULT_COOKIE_MAX_AGE_SECS})"
                ),
            ));
        }
        if let Some(events) = &self.events {
            non_empty("events", events)?;
            for (i, event) in events.iter().enumerate() {
                let ok =
                    !event.is_empty() && event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if !ok {
                    return Err(PolicyError::new(
                        format!("events[{i}]"),
                        "must be an event name like \"pull_request\"",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn has_space(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

fn non_empty(key: &str, list: &[String]) -> Result<(), PolicyError> {
    if list.is_empty() {
        return Err(PolicyError::new(key, "must not be empty"));
    }
    Ok(())
}

fn digits(key: &str, list: &[String]) -> Result<(), PolicyError> {
    for (i, id) in list.iter().enumerate() {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::new(
                format!("{key}[{i}]"),
                "must be a numeric id as a string, e.g. \"123456\"",
            ));
        }
    }
    Ok(())
}

/// Splits an entry that names its own ref, `PATH@refs/…` or `PATH@<40-hex sha>`, into
/// `(PATH, ref)`; `None` for a plain path entry, whose ref comes from the token.
///
/// Unambiguous because a valid PATH ends in `.yml`/`.yaml` and a workflow file name has no `/`:
/// `@refs/` can only start the ref, and a 40-hex tail after `.yml@` cannot be part of the name.
pub(crate) fn pinned_entry(entry: &str) -> Option<(&str, &str)> {
    let is_workflow_file = |p: &str| p.ends_with(".yml") || p.ends_with(".yaml");
    if let Some((at, _)) = entry
        .match_indices("@refs/")
        .find(|(at, _)| is_workflow_file(&entry[..*at]))
    {
        return Some((&entry[..at], &entry[at + 1..]));
    }
    let (path, tail) = entry.rsplit_once('@')?;
    let is_sha = tail.len() == 40 && tail.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (is_sha && is_workflow_file(path)).then_some((path, tail))
}

/// The `owner/name` an entry's workflow file lives in (the entry has passed `check_workflow`).
pub(crate) fn entry_repository(entry: &str) -> &str {
    entry
        .split_once("/.github/workflows/")
        .map_or(entry, |(repo, _)| repo)
}

/// An entry is `owner/repo/.github/workflows/file.yml`, optionally with an explicit
/// `@refs/…` or `@<sha>` (see [`pinned_entry`]); otherwise the ref comes from the token.
fn check_workflow(entry: &str) -> Result<(), &'static str> {
    const FORM: &str = "must be \"owner/repo/.github/workflows/FILE.yml\", optionally followed by \
                        \"@refs/heads/BRANCH\", \"@refs/tags/TAG\" or \"@<40-hex commit sha>\"";
    let entry = match pinned_entry(entry) {
        Some((path, git_ref)) => {
            let ref_ok = git_ref.len() == 40
                || git_ref
                    .strip_prefix("refs/")
                    .is_some_and(|r| r.contains('/') && !r.ends_with('/'));
            if !ref_ok {
                return Err(FORM);
            }
            path
        }
        None => entry,
    };
    let Some((repo, file)) = entry.split_once("/.github/workflows/") else {
        return Err(FORM);
    };
    let repo_ok = repo
        .split_once('/')
        .is_some_and(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'));
    let file_ok = !file.is_empty() && (file.ends_with(".yml") || file.ends_with(".yaml"));
    if !repo_ok || !file_ok || has_space(entry) {
        return Err(FORM);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
