//! Tokens that must pass: each GitHub trigger the product supports, reusable workflows, and
//! the tolerances (leeway, case-insensitive repository, explicit event allowlist).

use crate::common::{AUD, policy, setup, verify};
use ci_fixtures::token::now;
use ci_fixtures::{DEFAULT_OWNER_ID, DEFAULT_REPOSITORY_ID, DEFAULT_SHA, DEFAULT_WORKFLOW};
use ci_oidc::{RejectionKind, WorkflowClaim};

#[tokio::test]
async fn pull_request_token_verifies_with_typed_claims() {
    let (issuer, verifier) = setup().await;
    let token = issuer.token(AUD).build();
    let claims = verify(&verifier, &token, &policy()).await.expect("valid");
    assert_eq!(claims.iss, issuer.issuer_url());
    assert_eq!(claims.aud, AUD);
    assert_eq!(claims.exp - claims.iat, 300);
    assert_eq!(claims.nbf, Some(claims.iat - 600));
    assert_eq!(claims.event_name.as_deref(), Some("pull_request"));
    assert_eq!(claims.r#ref.as_deref(), Some("refs/pull/12/merge"));
    assert_eq!(claims.sha.as_deref(), Some(DEFAULT_SHA));
    assert_eq!(claims.repository_id.as_deref(), Some(DEFAULT_REPOSITORY_ID));
    assert_eq!(
        claims.repository_owner_id.as_deref(),
        Some(DEFAULT_OWNER_ID)
    );
    assert_eq!(
        claims.workflow_ref,
        Some(format!("{DEFAULT_WORKFLOW}@refs/pull/12/merge"))
    );
    assert_eq!(
        claims.sub.as_deref(),
        Some("repo:octo-org/octo-repo:pull_request")
    );
    assert_eq!(claims.head_ref.as_deref(), Some("feature/preview-smoke"));
    assert_eq!(claims.runner_environment.as_deref(), Some("github-hosted"));
    assert!(claims.jti.as_deref().is_some_and(|j| j.len() == 36));
}

#[tokio::test]
async fn push_and_workflow_dispatch_verify() {
    let (issuer, verifier) = setup().await;
    let push = verify(
        &verifier,
        &issuer.token(AUD).push_to("main").build(),
        &policy(),
    )
    .await
    .expect("push");
    assert_eq!(
        push.workflow_ref,
        Some(format!("{DEFAULT_WORKFLOW}@refs/heads/main"))
    );
    assert_eq!(
        push.sub.as_deref(),
        Some("repo:octo-org/octo-repo:ref:refs/heads/main")
    );
    let dispatch = issuer.token(AUD).dispatch_on("release/1.2").build();
    let claims = verify(&verifier, &dispatch, &policy())
        .await
        .expect("dispatch");
    assert_eq!(claims.event_name.as_deref(), Some("workflow_dispatch"));
}

#[tokio::test]
async fn workflow_matches_at_the_tokens_sha() {
    let (issuer, verifier) = setup().await;
    let token = issuer
        .token(AUD)
        .claim("workflow_ref", format!("{DEFAULT_WORKFLOW}@{DEFAULT_SHA}"))
        .build();
    verify(&verifier, &token, &policy())
        .await
        .expect("sha form");
}

#[tokio::test]
async fn reusable_workflow_via_job_workflow_ref() {
    let (issuer, verifier) = setup().await;
    let reusable = "octo-org/octo-repo/.github/workflows/reusable-smoke.yml";
    let mut policy = policy();
    policy.workflow_claim = WorkflowClaim::JobWorkflowRef;
    policy.workflows = vec![reusable.to_owned()];

    // Called locally (`uses: ./.github/workflows/reusable-smoke.yml`): same ref as the run.
    let local = issuer
        .token(AUD)
        .reusable(reusable, "refs/pull/12/merge", DEFAULT_SHA)
        .build();
    verify(&verifier, &local, &policy)
        .await
        .expect("local reusable");

    // Called by a commit the caller picks (`uses: …/reusable-smoke.yml@<sha>`): possibly unmerged
    // or only in a fork's network, so a bare entry refuses it (issue: reusable entries without
    // a ref); an entry naming that commit accepts it.
    let pinned_sha = "0123456789abcdef0123456789abcdef01234567";
    let pinned = issuer
        .token(AUD)
        .reusable(reusable, pinned_sha, pinned_sha)
        .build();
    let err = verify(&verifier, &pinned, &policy).await.unwrap_err();
    assert_eq!(err.check, "job_workflow_ref");
    let mut by_commit = policy.clone();
    by_commit.workflows = vec![format!("{reusable}@{pinned_sha}")];
    verify(&verifier, &pinned, &by_commit)
        .await
        .expect("an entry naming the commit");
    // The same file of another repository (a fork) at the run's own ref: not the caller's.
    let fork = issuer
        .token(AUD)
        .reusable(
            "evil-org/octo-repo/.github/workflows/reusable-smoke.yml",
            "refs/pull/12/merge",
            DEFAULT_SHA,
        )
        .build();
    assert!(verify(&verifier, &fork, &policy).await.is_err());

    // The caller's workflow_ref is not what this policy reads.
    let caller_only = issuer.token(AUD).build();
    let err = verify(&verifier, &caller_only, &policy).await.unwrap_err();
    assert_eq!(err.kind, RejectionKind::Workflow);
    assert_eq!(err.check, "job_workflow_ref");
}

#[tokio::test]
async fn tolerances() {
    let (issuer, verifier) = setup().await;
    let p = policy();
    // Expired 30 s ago: inside the 60 s leeway.
    let t = issuer.token(AUD).issued_at(now() - 330).build();
    verify(&verifier, &t, &p).await.expect("within leeway");
    // Issued 30 s in the future (clock skew): accepted.
    let t = issuer.token(AUD).issued_at(now() + 30).build();
    verify(&verifier, &t, &p).await.expect("iat skew");
    // Repository names compare ASCII case-insensitively.
    let t = issuer
        .token(AUD)
        .claim("repository", "Octo-Org/OCTO-repo")
        .build();
    verify(&verifier, &t, &p).await.expect("case");
    // Pins satisfied.
    let mut pinned = policy();
    pinned.repository_ids = vec!["1".into(), DEFAULT_REPOSITORY_ID.into()];
    pinned.repository_owner_ids = vec![DEFAULT_OWNER_ID.into()];
    verify(&verifier, &issuer.token(AUD).build(), &pinned)
        .await
        .expect("pins");
    // A denied-by-default event is allowed when the policy lists it.
    let mut events = policy();
    events.events = Some(vec!["pull_request_target".into()]);
    let t = issuer.token(AUD).event("pull_request_target").build();
    verify(&verifier, &t, &events)
        .await
        .expect("explicit allowlist");
    // Absent nbf is fine; fractional times are read as numbers.
    let t = issuer
        .token(AUD)
        .without("nbf")
        .claim("exp", now() as f64 + 100.5)
        .build();
    verify(&verifier, &t, &p).await.expect("no nbf, float exp");
}

#[tokio::test]
async fn reusable_workflow_pinned_to_a_branch_of_another_repository() {
    // A PR run calls `uses: octo-org/ci/.github/workflows/preview.yml@main`: the entry names the
    // ref, so only that reviewed branch of the reusable workflow is accepted, from any PR.
    let (issuer, verifier) = setup().await;
    let reusable = "octo-org/ci/.github/workflows/preview.yml";
    let mut policy = policy();
    policy.workflow_claim = WorkflowClaim::JobWorkflowRef;
    policy.workflows = vec![format!("{reusable}@refs/heads/main")];
    let main_sha = "89abcdef0123456789abcdef0123456789abcdef";

    let from_main = issuer
        .token(AUD)
        .reusable(reusable, "refs/heads/main", main_sha)
        .build();
    verify(&verifier, &from_main, &policy)
        .await
        .expect("reusable workflow at the pinned branch");

    // The same file at the PR's own ref, or at another branch, is refused: the pin is exact.
    for (git_ref, sha) in [
        ("refs/pull/12/merge", DEFAULT_SHA),
        ("refs/heads/main-evil", main_sha),
    ] {
        let other = issuer.token(AUD).reusable(reusable, git_ref, sha).build();
        let err = verify(&verifier, &other, &policy).await.unwrap_err();
        assert_eq!(err.kind, RejectionKind::Workflow, "{git_ref}");
    }
}
