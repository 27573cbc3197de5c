//! The policy checks on verified GitHub claims, in the order of the HTTP contract:
//! repository (403 `repo_mismatch`), then id pins, workflow, event (401).
//!
//! Every check fails closed: a claim the check needs and the token lacks is a refusal.

use crate::github::GitHubClaims;
use crate::policy::{DEFAULT_EVENTS, EndpointPolicy, WorkflowClaim};
use crate::rejection::{Rejection, RejectionKind, quoted};

/// Runs every policy check; the first failure wins.
pub(crate) fn check_policy(
    claims: &GitHubClaims,
    policy: &EndpointPolicy,
) -> Result<(), Rejection> {
    check_repository(claims, policy)?;
    check_pin(
        RejectionKind::RepositoryId,
        "repository_id",
        claims.repository_id.as_deref(),
        &policy.repository_ids,
    )?;
    check_pin(
        RejectionKind::RepositoryOwnerId,
        "repository_owner_id",
        claims.repository_owner_id.as_deref(),
        &policy.repository_owner_ids,
    )?;
    check_workflow(claims, policy)?;
    check_event(claims, policy)
}

fn list(values: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{:?}", v.as_ref())).collect();
    format!("one of [{}]", quoted.join(", "))
}

fn check_repository(claims: &GitHubClaims, policy: &EndpointPolicy) -> Result<(), Rejection> {
    let actual = claims.repository.as_deref();
    let allowed = actual.is_some_and(|repo| {
        policy
            .repositories
            .iter()
            .any(|r| r.eq_ignore_ascii_case(repo))
    });
    if allowed {
        return Ok(());
    }
    Err(Rejection::new(
        RejectionKind::Repository,
        "repository",
        list(&policy.repositories),
        quoted(actual),
    ))
}

fn check_pin(
    kind: RejectionKind,
    check: &'static str,
    actual: Option<&str>,
    pins: &[String],
) -> Result<(), Rejection> {
    if pins.is_empty() || actual.is_some_and(|id| pins.iter().any(|p| p == id)) {
        return Ok(());
    }
    Err(Rejection::new(kind, check, list(pins), quoted(actual)))
}

/// `true` when `claim` is exactly `{entry}@{suffix}` for one of `suffixes`.
///
/// Written as "strip the entry, then one `@`, then the whole rest equals the ref" so no string
/// is built; it is the same test as comparing with the concatenation, never a prefix test:
/// `smoke.yaml` does not match `smoke.yaml-evil.yaml@ref`, and an `@` inside a path is just
/// another byte of the entry.
pub(super) fn workflow_matches(claim: &str, entry: &str, suffixes: &[&str]) -> bool {
    claim
        .strip_prefix(entry)
        .and_then(|rest| rest.strip_prefix('@'))
        .is_some_and(|rest| suffixes.iter().any(|s| !s.is_empty() && *s == rest))
}

fn check_workflow(claims: &GitHubClaims, policy: &EndpointPolicy) -> Result<(), Rejection> {
    let (check, actual) = match policy.workflow_claim {
        WorkflowClaim::WorkflowRef => ("workflow_ref", claims.workflow_ref.as_deref()),
        WorkflowClaim::JobWorkflowRef => ("job_workflow_ref", claims.job_workflow_ref.as_deref()),
    };
    let refuse = |expected: String| {
        Err(Rejection::new(
            RejectionKind::Workflow,
            check,
            expected,
            quoted(actual),
        ))
    };
    let Some(actual_ref) = actual else {
        return refuse(list(&policy.workflows));
    };
    let (Some(git_ref), Some(sha)) = (claims.r#ref.as_deref(), claims.sha.as_deref()) else {
        return Err(Rejection::new(
            RejectionKind::Workflow,
            if claims.r#ref.is_none() { "ref" } else { "sha" },
            "present (the workflow is matched at the token's ref or sha)",
            crate::rejection::MISSING,
        ));
    };
    // A bare entry with `job_workflow_ref` matches only the calling repository's own reusable
    // workflow at the run's `ref`. Never at `job_workflow_sha` or `sha`: a reusable workflow
    // called by commit (`uses: o/r/.github/workflows/x.yml@<sha>`) runs whatever commit the
    // caller wrote there, possibly unmerged or only in a fork's network. An entry that must
    // accept a commit names it (`…/x.yml@<sha>`).
    let (suffixes, same_repository_only): (&[&str], bool) = match policy.workflow_claim {
        WorkflowClaim::JobWorkflowRef => (&[git_ref], true),
        WorkflowClaim::WorkflowRef => (&[git_ref, sha], false),
    };
    let repository = claims.repository.as_deref().unwrap_or("");
    if policy
        .workflows
        .iter()
        .any(|entry| match crate::policy::pinned_entry(entry) {
            // The entry names its ref: only that exact claim, whatever the run's ref.
            Some(_) => actual_ref == entry,
            None => {
                (!same_repository_only
                    || crate::policy::entry_repository(entry).eq_ignore_ascii_case(repository))
                    && workflow_matches(actual_ref, entry, suffixes)
            }
        })
    {
        return Ok(());
    }
    let shown: Vec<&str> = suffixes.iter().copied().filter(|s| !s.is_empty()).collect();
    refuse(format!(
        "{} at @[{}]",
        list(&policy.workflows),
        shown.join(" | ")
    ))
}

fn check_event(claims: &GitHubClaims, policy: &EndpointPolicy) -> Result<(), Rejection> {
    let actual = claims.event_name.as_deref();
    let allowed = match (&policy.events, actual) {
        (_, None) => false,
        (Some(allow), Some(event)) => allow.iter().any(|e| e == event),
        (None, Some(event)) => DEFAULT_EVENTS.contains(&event),
    };
    if allowed {
        return Ok(());
    }
    // Built only on failure: this runs on every request.
    let expected = match (&policy.events, actual) {
        (_, None) => String::from("present"),
        (Some(allow), _) => list(allow),
        (None, _) => format!("{} (no events list in the policy)", list(DEFAULT_EVENTS)),
    };
    Err(Rejection::new(
        RejectionKind::Event,
        "event_name",
        expected,
        quoted(actual),
    ))
}

#[cfg(test)]
mod tests {
    use super::workflow_matches;

    const E: &str = "o/r/.github/workflows/smoke.yaml";

    #[test]
    fn exact_not_prefix() {
        assert!(workflow_matches(
            &format!("{E}@refs/heads/main"),
            E,
            &["refs/heads/main", "abc"]
        ));
        assert!(workflow_matches(
            &format!("{E}@abc"),
            E,
            &["refs/heads/main", "abc"]
        ));
        assert!(!workflow_matches(
            &format!("{E}-evil.yaml@refs/heads/main"),
            E,
            &["refs/heads/main"]
        ));
        assert!(!workflow_matches(
            &format!("{E}@refs/heads/main2"),
            E,
            &["refs/heads/main"]
        ));
        assert!(!workflow_matches(
            &format!("{E}@refs/heads/main@x"),
            E,
            &["refs/heads/main"]
        ));
        assert!(!workflow_matches(&format!("{E}@"), E, &[""]));
        let at = "o/r/.github/workflows/a@b.yaml";
        assert!(workflow_matches(
            &format!("{at}@refs/heads/x"),
            at,
            &["refs/heads/x"]
        ));
        assert!(!workflow_matches(
            &format!("{at}@refs/heads/x"),
            "o/r/.github/workflows/a",
            &["refs/heads/x"]
        ));
    }
}
