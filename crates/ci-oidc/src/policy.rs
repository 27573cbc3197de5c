//! One endpoint's policy: who may call it (the `[endpoints."NAME"]` table of `ci-policy.toml`).
//!
//! The policy is reviewed like code, so a mistake in it must stop the server at start-up
//! rather than quietly allow or deny everything: [`EndpointPolicy::validate`] names the key
//! that is wrong. The checks themselves live in [`crate::github::checks`].

use serde::Deserialize;

/// Events refused when the policy has no `events` list: they run with the base repository's
/// secrets and permissions on behalf of code or text from outside (fork PRs, comments,
/// chained runs), the classic "pwn request" shapes.
pub const DEFAULT_DENIED_EVENTS: &[&str] =
    &["pull_request_target", "workflow_run", "issue_comment"];

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
    /// Optional `repository_owner_id` pins; empty = not pinned.
    #[serde(default)]
    pub repository_owner_ids: Vec<String>,
    /// `owner/repo/.github/workflows/file.yaml` entries; required, matched exactly at the token's
    /// own `ref`/`sha`. An entry may name its ref itself (`…/file.yaml@refs/heads/main` or
    /// `…/file.yaml@<40-hex sha>`): it then matches only that exact claim, which is how a
    /// reusable workflow is pinned to reviewed contents (see [`pinned_entry`]).
    pub workflows: Vec<String>,
    /// Allowed `event_name`s; `None` = all but [`DEFAULT_DENIED_EVENTS`].
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Which claim the `workflows` entries are matched against.
    #[serde(default)]
    pub workflow_claim: WorkflowClaim,
    /// Require a `jti` and refuse any second use of it (issue 6).
    #[serde(default)]
    pub single_use: bool,
    /// Accept a token only on the deployment of its own run's pull request or branch (issue 6).
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
        digits("repository_ids", &self.repository_ids)?;
        digits("repository_owner_ids", &self.repository_owner_ids)?;
        non_empty("workflows", &self.workflows)?;
        for (i, entry) in self.workflows.iter().enumerate() {
            check_workflow(entry).map_err(|m| PolicyError::new(format!("workflows[{i}]"), m))?;
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
pub fn pinned_entry(entry: &str) -> Option<(&str, &str)> {
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
mod tests {
    use super::*;

    fn policy() -> EndpointPolicy {
        EndpointPolicy::new("https://aud", "o/r", "o/r/.github/workflows/smoke.yaml")
    }

    #[test]
    fn valid_policy() {
        policy().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        type Mutation = fn(&mut EndpointPolicy);
        let cases: Vec<(Mutation, &str)> = vec![
            (|p| p.audience.clear(), "audience"),
            (|p| p.repositories.clear(), "repositories"),
            (|p| p.repositories = vec!["nope".into()], "repositories[0]"),
            (|p| p.workflows.clear(), "workflows"),
            (
                |p| p.workflows = vec!["o/r/.github/workflows/smoke.yaml@main".into()],
                "workflows[0]",
            ),
            (
                |p| p.workflows = vec!["o/r/.github/workflows/smoke.yaml@refs/".into()],
                "workflows[0]",
            ),
            (
                |p| p.workflows = vec!["o/r/smoke.yaml".into()],
                "workflows[0]",
            ),
            (
                |p| p.repository_ids = vec!["12".into(), "x".into()],
                "repository_ids[1]",
            ),
            (
                |p| p.repository_owner_ids = vec![String::new()],
                "repository_owner_ids[0]",
            ),
            (|p| p.events = Some(vec![]), "events"),
            (|p| p.cookie_max_age = 59, "cookie_max_age"),
            (|p| p.cookie_max_age = 86_401, "cookie_max_age"),
            (|p| p.events = Some(vec!["Push".into()]), "events[0]"),
        ];
        for (mutate, key) in cases {
            let mut p = policy();
            mutate(&mut p);
            assert_eq!(p.validate().unwrap_err().key, key);
        }
    }

    #[test]
    fn entries_may_pin_their_own_ref() {
        let mut p = policy();
        p.workflows = vec![
            "o/r/.github/workflows/smoke.yaml@refs/heads/main".into(),
            "o/r/.github/workflows/smoke.yml@refs/tags/v1.2.0".into(),
            format!("o/r/.github/workflows/smoke.yaml@{}", "a".repeat(40)),
        ];
        p.validate().unwrap();
        assert_eq!(
            pinned_entry("o/r/.github/workflows/x.yaml@refs/heads/main"),
            Some(("o/r/.github/workflows/x.yaml", "refs/heads/main"))
        );
        // An `@` inside the file name is part of the path, not a ref.
        assert_eq!(pinned_entry("o/r/.github/workflows/a@b.yaml"), None);
        assert_eq!(pinned_entry("o/r/.github/workflows/x.yaml"), None);
        // Upper-case or short hex is not a sha.
        assert_eq!(
            pinned_entry(&format!("o/r/.github/workflows/x.yaml@{}", "A".repeat(40))),
            None
        );
    }
}
