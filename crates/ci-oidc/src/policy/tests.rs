//! `EndpointPolicy::validate`: every refusal names its key; entries that pin their own ref.

use super::*;

fn policy() -> EndpointPolicy {
    EndpointPolicy {
        repository_owner_ids: vec!["9".into()],
        ..EndpointPolicy::new("https://aud", "o/r", "o/r/.github/workflows/smoke.yaml")
    }
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
        (|p| p.repository_owner_ids.clear(), "repository_owner_ids"),
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
fn owner_ids_are_required_and_the_error_says_how_to_find_them() {
    let mut p = policy();
    p.repository_owner_ids.clear();
    let error = p.validate().unwrap_err();
    assert_eq!(error.key, "repository_owner_ids");
    assert!(
        error
            .message
            .contains("gh api repos/OWNER/REPO --jq '.id, .owner.id'"),
        "{error}"
    );
}

#[test]
fn job_workflow_ref_entries_from_other_repositories_must_name_their_ref() {
    let mut p = policy();
    p.workflow_claim = WorkflowClaim::JobWorkflowRef;
    p.workflows = vec!["shared/lib/.github/workflows/preview.yml".into()];
    let error = p.validate().unwrap_err();
    assert_eq!(error.key, "workflows[0]");
    assert!(error.message.contains("must name its ref"), "{error}");
    for ok in [
        "shared/lib/.github/workflows/preview.yml@refs/heads/main".to_owned(),
        format!(
            "shared/lib/.github/workflows/preview.yml@{}",
            "a".repeat(40)
        ),
        // The calling repository's own reusable workflow, at the run's own ref.
        "O/R/.github/workflows/preview.yml".to_owned(),
    ] {
        p.workflows = vec![ok.clone()];
        p.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // With workflow_ref a bare entry keeps its meaning (the run's own workflow).
    p.workflow_claim = WorkflowClaim::WorkflowRef;
    p.workflows = vec!["shared/lib/.github/workflows/preview.yml".into()];
    p.validate().unwrap();
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
