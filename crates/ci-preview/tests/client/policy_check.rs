//! `ci-preview policy check` against real git repositories made in a temp folder: a grant and
//! the workflow it names in one pull request fail (exit 1); the same change as two pull requests
//! passes; a renamed workflow counts as added; a moved policy is still found; bad input is exit 2.

use std::path::Path;
use std::process::Command;

use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, policy_entry, policy_toml};

use crate::support::{BIN, Run};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const NEW_WORKFLOW: &str = "octo-org/octo-repo/.github/workflows/deploy-check.yml";
const NEW_FILE: &str = ".github/workflows/deploy-check.yml";

/// A repository with `main` holding a policy (one endpoint trusting DEFAULT_WORKFLOW) and that
/// workflow.
struct Repo(tempfile::TempDir);

impl Repo {
    fn new() -> Repo {
        let repo = Repo(tempfile::tempdir().expect("temp dir"));
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "ci@example.test"]);
        repo.git(&["config", "user.name", "CI"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo.write("ci-policy.toml", &base_policy());
        repo.write(
            ".github/workflows/ci-in-preview-smoke.yaml",
            "on: pull_request\n",
        );
        repo.commit("main: policy and smoke workflow");
        repo
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(self.path())
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn check(&self, args: &[&str]) -> Run {
        let summary = self.path().join("../summary.md");
        let out = Command::new(BIN)
            .current_dir(self.path())
            .args(["policy", "check"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_REPOSITORY", DEFAULT_REPOSITORY)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .expect("ci-preview runs");
        Run::from(out)
    }
}

fn base_policy() -> String {
    policy_toml(
        ISSUER,
        "flags/encrypt-override",
        "https://ci.test/api/~/ci/flags/encrypt-override",
    )
}

/// The base policy with NEW_WORKFLOW added to the endpoint's workflows.
fn granting_policy() -> String {
    base_policy().replace(
        &format!("workflows = [{DEFAULT_WORKFLOW:?}]"),
        &format!("workflows = [{DEFAULT_WORKFLOW:?}, {NEW_WORKFLOW:?}]"),
    )
}

#[test]
fn a_grant_and_its_new_workflow_in_one_pull_request_fail() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("ci-policy.toml", &granting_policy());
    repo.write(NEW_FILE, "on: pull_request\n");
    repo.commit("grant and workflow together");

    let run = repo.check(&["--base", "main"]);
    run.assert_exit(1, &[]);
    assert!(run.stdout.contains(NEW_WORKFLOW), "{}", run.stdout);
    assert!(run.stdout.contains("same-PR grant"), "{}", run.stdout);
    run.assert_stderr_has(&[NEW_FILE]);
    run.assert_stderr_has(&["Split the pull request"]);
    let summary = std::fs::read_to_string(repo.path().join("../summary.md")).unwrap();
    assert!(summary.contains("**Failed:**"), "{summary}");

    // Modifying an existing workflow while granting it (a pinned entry of the same file) fails too.
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let pinned = format!("{DEFAULT_WORKFLOW}@refs/heads/main");
    repo.write(
        "ci-policy.toml",
        &base_policy().replace(
            &format!("workflows = [{DEFAULT_WORKFLOW:?}]"),
            &format!("workflows = [{DEFAULT_WORKFLOW:?}, {pinned:?}]"),
        ),
    );
    repo.write(
        ".github/workflows/ci-in-preview-smoke.yaml",
        "on: [pull_request, push]\n",
    );
    repo.commit("pin and edit");
    let run = repo.check(&["--base", "main"]);
    run.assert_exit(1, &[]);
    assert!(
        run.stdout.contains("which this pull request modifies"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_same_change_as_two_pull_requests_passes() {
    let repo = Repo::new();
    // First pull request: the grant alone.
    repo.git(&["checkout", "-q", "-b", "grant"]);
    repo.write("ci-policy.toml", &granting_policy());
    repo.commit("grant deploy-check");
    let run = repo.check(&["--base", "main"]);
    run.assert_success();
    assert!(run.stdout.contains("grants added (1)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(NEW_WORKFLOW),
        "listed for the reviewer: {}",
        run.stdout
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "grant"]);

    // Second pull request: the workflow, on top of the merged grant.
    repo.git(&["checkout", "-q", "-b", "workflow"]);
    repo.write(NEW_FILE, "on: pull_request\n");
    repo.commit("add deploy-check");
    let run = repo.check(&["--base", "main", "--head", "workflow"]);
    run.assert_success();
    assert!(run.stdout.contains("grants added: none"), "{}", run.stdout);
}

#[test]
fn a_renamed_workflow_counts_as_added() {
    let repo = Repo::new();
    repo.write(
        ".github/workflows/old-name.yml",
        "on: pull_request\njobs: {}\n",
    );
    repo.commit("main: another workflow");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["mv", ".github/workflows/old-name.yml", NEW_FILE]);
    repo.write("ci-policy.toml", &granting_policy());
    repo.commit("rename the workflow and grant it");

    let run = repo.check(&["--base", "main"]);
    run.assert_exit(1, &[]);
    assert!(
        run.stdout.contains("which this pull request adds"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_moved_policy_is_still_found() {
    // Moved, with the grant and the workflow: still caught, whether --policy names the old
    // path, the new one, or nothing (the one ci-policy.toml in the tree).
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    std::fs::remove_file(repo.path().join("ci-policy.toml")).unwrap();
    repo.write("deploy/ci-policy.toml", &granting_policy());
    repo.write(NEW_FILE, "on: pull_request\n");
    repo.commit("move the policy, grant and add the workflow");
    for args in [
        vec!["--base", "main"],
        vec!["--base", "main", "--policy", "ci-policy.toml"],
        vec!["--base", "main", "--policy", "deploy/ci-policy.toml"],
    ] {
        let run = repo.check(&args);
        run.assert_exit(1, &[]);
        assert!(
            run.stdout.contains("moved from ci-policy.toml"),
            "{args:?}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("grants added (1)"),
            "only the new grant: {}",
            run.stdout
        );
    }

    // Renamed to another file name: followed from the path the check is configured with.
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["mv", "ci-policy.toml", "policy.toml"]);
    repo.write("policy.toml", &granting_policy());
    repo.commit("rename the policy and grant");
    let run = repo.check(&["--base", "main", "--policy", "ci-policy.toml"]);
    run.assert_success();
    assert!(
        run.stdout
            .contains("policy: policy.toml (moved from ci-policy.toml)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("grants added (1)"), "{}", run.stdout);
}

#[test]
fn other_grants_are_listed_without_failing() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let widened = format!(
        "serve_in = [\"preview\", \"development\", \"staging\"]\n{}\ncookie_max_age = 86400\nevents = [\"pull_request\", \"push\", \"workflow_dispatch\", \"schedule\"]\n{}",
        base_policy(),
        policy_entry("other/endpoint", "https://ci.test/api/~/ci/other/endpoint")
    );
    repo.write("ci-policy.toml", &widened);
    repo.write(".github/workflows/unrelated.yml", "on: push\n");
    repo.commit("widen");
    let run = repo.check(&["--base", "main"]);
    run.assert_success();
    for expected in [
        "serve_in",
        "cookie_max_age: raised 7200 -> 86400 s",
        "\"schedule\" allowed",
        "endpoints.\"other/endpoint\": new endpoint",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
}

#[test]
fn bad_input_is_exit_2_with_the_fix() {
    let repo = Repo::new();
    let run = repo.check(&["--base", "no-such-branch"]);
    run.assert_exit(2, &["no such commit"]);

    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "ci-policy.toml",
        "[issuer]\nurl = \"https://token.actions.githubusercontent.com\"\nbogus = 1\n",
    );
    repo.commit("break the policy");
    let run = repo.check(&["--base", "main"]);
    run.assert_exit(2, &["not one the server would start with"]);

    repo.git(&["rm", "-q", "ci-policy.toml"]);
    repo.commit("remove it");
    let run = repo.check(&["--base", "main"]);
    run.assert_exit(2, &["--policy"]);
}
