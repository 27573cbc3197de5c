//! `ci-preview discover`: every source in order, the head-SHA flow, polling and its failures.

use std::time::{Duration, Instant};

use ci_fixtures::github::{ApiFault, MERGE_SHA};
use serde_json::json;

use crate::support::*;

const VERCEL_COMMENT: &str = "[vc]: #abc\n**The latest updates on your projects**. Learn more about [Vercel for GitHub](https://vercel.link/github-learn-more).\n\n\
| Name | Status | Preview | Comments | Updated (UTC) |\n| :--- | :----- | :------ | :------- | :------ |\n\
| **v0** | ✅ Ready ([Inspect](https://vercel.com/vercel/v0/9xYzAbC)) | [Visit Preview](https://vercel.live/open-feedback/v0-git-feature-preview-smoke-vercel.vercel.app?via=pr-comment-visit-preview-link&passThrough=1) | 💬 [**Add feedback**](https://vercel.live/open-feedback/v0-git-feature-preview-smoke-vercel.vercel.app?via=pr-comment-feedback-link) | Apr 22, 2026 5:00pm |";

#[tokio::test]
async fn an_explicit_url_wins_without_asking_github() {
    let (_issuer, github) = mocks().await;
    let run = Client::new(&["discover"])
        .github(&github)
        .env("PREVIEW_URL", "app-git-x-team.vercel.app/")
        .run()
        .await;
    run.assert_success();
    assert_eq!(run.stdout, "https://app-git-x-team.vercel.app\n");
    run.assert_stderr_has(&["from --url/PREVIEW_URL"]);
    assert!(github.api_requests().is_empty());
}

#[tokio::test]
async fn a_deployment_status_event_gives_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let payload = |state: &str| {
        json!({
            "deployment_status": {"state": state, "environment": "Preview", "environment_url": "",
                                  "target_url": "https://v0-abc123-vercel.vercel.app",
                                  "creator": {"login": "vercel[bot]"}},
            "deployment": {"sha": HEAD_SHA, "environment": "Preview", "creator": {"login": "vercel[bot]"}}
        })
    };
    std::fs::write(&path, payload("success").to_string()).unwrap();
    let run = Client::new(&["discover"])
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_EVENT_NAME", "deployment_status")
        .run()
        .await;
    run.assert_success();
    assert_eq!(run.stdout, "https://v0-abc123-vercel.vercel.app\n");
    run.assert_stderr_has(&["deployment_status event"]);

    std::fs::write(&path, payload("in_progress").to_string()).unwrap();
    let run = Client::new(&["discover"])
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_EVENT_NAME", "deployment_status")
        .run()
        .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("github.event.deployment_status.state == 'success'"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn deployments_api_uses_the_pull_request_head_never_github_sha() {
    let (_issuer, github) = mocks().await;
    github.add_pull_request(12, HEAD_SHA);
    // A deployment of the merge commit must never be picked.
    let merge = github.add_deployment(MERGE_SHA, "Preview");
    github.add_deployment_status(merge, "success", Some("https://wrong.vercel.app"), None);
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "in_progress", None, Some("https://vercel.com/logs"));
    github.add_deployment_status(
        id,
        "success",
        Some("https://v0-git-feature-vercel.vercel.app"),
        Some("https://t.vercel.app"),
    );
    let run = Client::new(&["discover", "--pr", "12"])
        .github(&github)
        .run()
        .await;
    run.assert_success();
    assert_eq!(
        run.stdout, "https://v0-git-feature-vercel.vercel.app\n",
        "environment_url before target_url"
    );
    run.assert_stderr_has(&["pull request #12 head: 0a1b2c3d"]);
    run.assert_stderr_has(&["the Deployments API (deployment"]);
    assert_eq!(github.deployment_shas_queried(), [HEAD_SHA]);
}

#[tokio::test]
async fn environment_picks_one_project_and_target_url_is_the_fallback() {
    let (_issuer, github) = mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let web = github.add_deployment(HEAD_SHA, "Preview – web");
    github.add_deployment_status(web, "success", None, Some("https://web-git-x.vercel.app"));
    let chat = github.add_deployment(HEAD_SHA, "Preview – chat");
    github.add_deployment_status(chat, "success", None, Some("https://chat-git-x.vercel.app"));
    // Another pull request's preview later marked this one inactive: it still serves.
    github.add_deployment_status(web, "inactive", None, None);
    let run = Client::new(&["discover", "--environment", "Preview – web"])
        .github(&github)
        .pull_request_event(dir.path(), 12, HEAD_SHA)
        .run()
        .await;
    run.assert_success();
    assert_eq!(run.stdout, "https://web-git-x.vercel.app\n");
    assert!(
        !github.api_requests().iter().any(|r| r.contains("/pulls/")),
        "head came from the event"
    );
}

#[tokio::test]
async fn comments_by_the_deploy_bot_are_the_last_source() {
    let (_issuer, github) = mocks().await;
    github.add_pull_request(12, HEAD_SHA);
    github.add_comment(12, "octocat", "try https://mine-git-x.vercel.app please");
    github.add_comment(12, "vercel[bot]", VERCEL_COMMENT);
    let run = Client::new(&["discover", "--pr", "12"])
        .github(&github)
        .run()
        .await;
    run.assert_success();
    assert_eq!(
        run.stdout,
        "https://v0-git-feature-preview-smoke-vercel.vercel.app\n"
    );
    run.assert_stderr_has(&["a comment by vercel[bot]"]);

    let run = Client::new(&["discover", "--pr", "12", "--comment-author", "octocat"])
        .github(&github)
        .run()
        .await;
    assert_eq!(run.stdout, "https://mine-git-x.vercel.app\n");

    let run = Client::new(&["discover", "--pr", "12", "--comment-pattern", "(unclosed"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("--comment-pattern is not a valid regex")
    );
}

#[tokio::test]
async fn polls_until_a_late_deployment_succeeds_through_a_rate_limit() {
    let (_issuer, github) = mocks().await;
    github.add_pull_request(12, HEAD_SHA);
    github.fail_api(ApiFault::RetryAfter(1), 1);
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "in_progress", None, None);
    let started = Instant::now();
    let client = Client::new(&["discover", "--pr", "12", "--timeout", "60s"])
        .github(&github)
        .run();
    let late = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        github.add_deployment_status(id, "success", Some("https://late-git-x.vercel.app"), None);
    };
    let (run, ()) = tokio::join!(client, late);
    run.assert_success();
    assert_eq!(run.stdout, "https://late-git-x.vercel.app\n");
    assert!(started.elapsed() >= Duration::from_secs(4));
    run.assert_stderr_has(&["rate limit"]);
    run.assert_stderr_has(&["is in_progress"]);
    assert!(
        !run.stderr.contains("vercel[bot]"),
        "in-progress deployments are waited for, not bypassed"
    );
}

#[tokio::test]
async fn gives_up_at_the_timeout_with_what_it_checked() {
    let (_issuer, github) = mocks().await;
    github.add_pull_request(12, HEAD_SHA);
    let started = Instant::now();
    let run = Client::new(&["discover", "--pr", "12", "--timeout", "3s"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(1, &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    run.assert_stderr_has(&["no preview URL found after"]);
    run.assert_stderr_has(&["comments by vercel[bot] on #12"]);
}

#[tokio::test]
async fn a_failed_deployment_fails_fast() {
    let (_issuer, github) = mocks().await;
    let id = github.add_deployment(HEAD_SHA, "Preview");
    github.add_deployment_status(id, "failure", None, Some("https://vercel.com/logs"));
    let run = Client::new(&["discover", "--sha", HEAD_SHA])
        .github(&github)
        .run()
        .await;
    run.assert_exit(1, &["failed to deploy"]);
}

#[tokio::test]
async fn configuration_errors_exit_2_with_the_fix() {
    let (_issuer, github) = mocks().await;
    let run = Client::new(&["discover"]).github(&github).run().await;
    run.assert_exit(2, &["pass --pr N"]);

    let run = Client::new(&["discover", "--pr", "12"]).run().await;
    run.assert_exit(2, &["GITHUB_REPOSITORY is not set"]);

    github.fail_api(
        ApiFault::Status(403, "Resource not accessible by integration".into()),
        1,
    );
    let run = Client::new(&["discover", "--sha", HEAD_SHA])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &["permissions: deployments: read"]);

    let run = Client::new(&["discover", "--sha", HEAD_SHA])
        .github(&github)
        .env("GITHUB_TOKEN", "ghs_wrong")
        .run()
        .await;
    run.assert_exit(2, &[]);
    assert!(
        run.stderr
            .contains("GitHub rejected GITHUB_TOKEN (HTTP 401"),
        "{}",
        run.stderr
    );
    run.assert_never("ghs_wrong");

    let run = Client::new(&["discover", "--pr", "99"])
        .github(&github)
        .run()
        .await;
    run.assert_exit(2, &["HTTP 404"]);
}

/// Naming the Vercel project narrows the `*.vercel.app` default to its own previews: another
/// project's preview (any Vercel user can have one) is refused before any request.
#[tokio::test]
async fn a_named_vercel_project_allows_only_its_own_previews() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let payload = |url: &str| {
        json!({
            "deployment_status": {"state": "success", "environment": "Preview", "environment_url": url,
                                  "creator": {"login": "vercel[bot]"}},
            "deployment": {"sha": HEAD_SHA, "environment": "Preview", "creator": {"login": "vercel[bot]"}}
        })
    };
    let discover = |url: &str| {
        std::fs::write(&path, payload(url).to_string()).unwrap();
        Client::new(&["discover", "--vercel-scope", "vercel"])
            .env("GITHUB_EVENT_PATH", &path)
            .env("GITHUB_EVENT_NAME", "deployment_status")
            .env("CI_PREVIEW_VERCEL_PROJECT", "v0")
            .run()
    };
    let run = discover("https://v0-git-feature-x-vercel.vercel.app").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "https://v0-git-feature-x-vercel.vercel.app\n");
    for other in [
        "https://other-app-git-x-vercel.vercel.app",
        "https://v0-git-x-someone.vercel.app",
    ] {
        let run = discover(other).await;
        assert_eq!(run.code, 2, "{other}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("not on the allowlist (v0-*-vercel.vercel.app,"),
            "{}",
            run.stderr
        );
    }
}
