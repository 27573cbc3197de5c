//! The binding rules of `binding.rs`, one branch at a time: pull request, branch, neither, and
//! the repository.

use super::*;

fn deployment(pull_request: Option<&str>, branch: Option<&str>) -> Deployment {
    Deployment {
        environment: Some("preview".to_owned()),
        commit: Some("e83c5163316f89bfbde7d9ab23ca2e25604af290".to_owned()),
        git_ref: branch.map(str::to_owned),
        pull_request: pull_request.map(str::to_owned),
        repository: Some("o/r".to_owned()),
        repository_id: Some("42".to_owned()),
        ..Deployment::default()
    }
}

fn claims(git_ref: Option<&str>, head_ref: Option<&str>) -> GitHubClaims {
    GitHubClaims {
        r#ref: git_ref.map(str::to_owned),
        head_ref: head_ref.map(str::to_owned),
        repository: Some("o/r".to_owned()),
        repository_id: Some("42".to_owned()),
        ..GitHubClaims::default()
    }
}

#[test]
fn the_same_pull_request_number_of_another_repository_is_refused() {
    let d = deployment(Some("12"), Some("feature/x"));
    check_deployment_binding(&d, &pr12()).unwrap();
    let other = |name: Option<&str>, id: Option<&str>| GitHubClaims {
        repository: name.map(str::to_owned),
        repository_id: id.map(str::to_owned),
        ..pr12()
    };
    for (token, check) in [
        (other(Some("o/other"), Some("43")), "repository_id"),
        (other(Some("o/r"), Some("43")), "repository_id"),
        (other(Some("o/other"), Some("42")), "repository"),
        (other(Some("o/r"), None), "repository_id"),
        (other(None, Some("42")), "repository"),
    ] {
        assert_eq!(
            check_deployment_binding(&d, &token).unwrap_err().check,
            check
        );
    }
    // Names compare as GitHub does (case-insensitively); ids exactly.
    check_deployment_binding(&d, &other(Some("O/R"), Some("42"))).unwrap();
    // Only the name known: the name decides; only the id: the id.
    let by_name = Deployment {
        repository_id: None,
        ..d.clone()
    };
    check_deployment_binding(&by_name, &other(Some("o/r"), Some("43"))).unwrap();
    assert!(check_deployment_binding(&by_name, &other(Some("o/other"), Some("42"))).is_err());
    let by_id = Deployment {
        repository: None,
        ..d.clone()
    };
    check_deployment_binding(&by_id, &other(Some("o/renamed"), Some("42"))).unwrap();
    // Neither known: fail closed.
    let unknown = Deployment {
        repository: None,
        repository_id: None,
        ..d
    };
    let error = check_deployment_binding(&unknown, &pr12()).unwrap_err();
    assert_eq!(error.check, "deployment");
    assert!(error.actual.contains("fail closed"));
}

/// A `pull_request` run of PR 12 from branch `feature/x`.
fn pr12() -> GitHubClaims {
    claims(Some("refs/pull/12/merge"), Some("feature/x"))
}

/// A `push` to `branch` (GitHub sends an empty `head_ref` on pushes).
fn push(branch: &str) -> GitHubClaims {
    claims(Some(&format!("refs/heads/{branch}")), Some(""))
}

#[test]
fn pull_request_deployment_accepts_its_own_pull_request() {
    let d = deployment(Some("12"), Some("feature/x"));
    assert_eq!(
        DeploymentBinding::of(&d),
        DeploymentBinding::PullRequest {
            number: "12".into(),
            expected_ref: "refs/pull/12/merge".into()
        }
    );
    check_deployment_binding(&d, &pr12()).unwrap();
    // Without a branch known, the pull request alone decides.
    check_deployment_binding(&deployment(Some("12"), None), &pr12()).unwrap();
}

#[test]
fn pull_request_deployment_refuses_everything_else() {
    let d = deployment(Some("12"), Some("feature/x"));
    for (token, actual) in [
        (
            claims(Some("refs/pull/13/merge"), Some("feature/x")),
            "\"refs/pull/13/merge\"",
        ),
        // Prefix and suffix look-alikes of PR 12 and of other numbers.
        (
            claims(Some("refs/pull/1/merge"), None),
            "\"refs/pull/1/merge\"",
        ),
        (
            claims(Some("refs/pull/123/merge"), None),
            "\"refs/pull/123/merge\"",
        ),
        (
            claims(Some("refs/pull/12/head"), None),
            "\"refs/pull/12/head\"",
        ),
        (
            claims(Some("refs/pull/12/merge/x"), None),
            "\"refs/pull/12/merge/x\"",
        ),
        // A push to the PR's own branch: the PR rule wins, so only pull_request runs pass.
        (push("feature/x"), "\"refs/heads/feature/x\""),
        (claims(None, Some("feature/x")), "(missing)"),
        (claims(Some(""), Some("feature/x")), "\"\""),
    ] {
        let error = check_deployment_binding(&d, &token).unwrap_err();
        assert_eq!(error.check, "ref");
        assert_eq!(error.actual, actual);
        assert!(error.expected.contains("refs/pull/12/merge"), "{error:?}");
    }
}

#[test]
fn branch_deployment_accepts_pull_requests_from_the_branch_and_pushes_to_it() {
    let d = deployment(None, Some("feature/x"));
    assert_eq!(
        DeploymentBinding::of(&d),
        DeploymentBinding::Branch {
            branch: "feature/x".into()
        }
    );
    check_deployment_binding(&d, &pr12()).unwrap();
    check_deployment_binding(&d, &claims(Some("refs/pull/99/merge"), Some("feature/x"))).unwrap();
    check_deployment_binding(&d, &push("feature/x")).unwrap();
    check_deployment_binding(&d, &claims(Some("refs/heads/feature/x"), None)).unwrap();
}

#[test]
fn branch_deployment_refuses_other_branches() {
    let d = deployment(None, Some("main"));
    for token in [
        push("main2"),
        push("Main"),
        push("feature/main"),
        claims(Some("refs/tags/main"), Some("")),
        claims(Some("refs/remotes/origin/main"), None),
        claims(Some("main"), None),
        claims(Some("refs/pull/12/merge"), Some("feature/x")),
        claims(Some("refs/pull/12/merge"), Some("main ")),
        claims(None, None),
        claims(Some(""), Some("")),
    ] {
        let error = check_deployment_binding(&d, &token).unwrap_err();
        assert_eq!(error.check, "head_ref|ref", "{token:?}");
        assert_eq!(
            error.expected,
            "head_ref \"main\" or ref \"refs/heads/main\""
        );
        assert!(error.actual.starts_with("head_ref "), "{error:?}");
    }
}

#[test]
fn deployment_knowing_neither_refuses_every_token() {
    for d in [
        deployment(None, None),
        deployment(Some(""), Some("  ")),
        Deployment::default(),
    ] {
        let binding = DeploymentBinding::of(&d);
        assert_eq!(binding, DeploymentBinding::Unknown, "{d:?}");
        assert!(!binding.can_accept());
        for token in [pr12(), push("main"), claims(None, None)] {
            let error = binding.check(&token).unwrap_err();
            assert_eq!(error.check, "deployment");
            assert!(error.actual.contains("fail closed"));
        }
    }
}

#[test]
fn blank_pull_request_falls_back_to_the_branch() {
    let d = deployment(Some(" "), Some("feature/x"));
    check_deployment_binding(&d, &push("feature/x")).unwrap();
    assert!(check_deployment_binding(&d, &push("main")).is_err());
}

#[test]
fn non_numeric_pull_request_refuses_even_a_matching_looking_token() {
    for value in ["12/merge", "abc", "-1", "1 2"] {
        let d = deployment(Some(value), Some("feature/x"));
        let binding = DeploymentBinding::of(&d);
        assert!(!binding.can_accept(), "{value}");
        for token in [
            claims(Some(&format!("refs/pull/{value}/merge")), Some("feature/x")),
            push("feature/x"),
        ] {
            let error = binding.check(&token).unwrap_err();
            assert_eq!(error.check, "deployment");
            assert!(error.expected.contains("numeric"));
        }
    }
}
