//! GitHub REST JSON shapes for the mock: the field sets of GitHub's REST reference (API version
//! 2022-11-28) for a pull request, a repository, a simple user, an app, a deployment, a deployment
//! status and an issue comment.
//!
//! Full shapes, not the few fields a client reads, because octocrab's models are strict about
//! their required fields: a fixture that only has `head.sha` would pass a hand-written test and
//! still not look like GitHub.

use serde_json::{Value, json};

/// Formats seconds since the epoch as GitHub does: `2026-04-22T17:00:00Z`.
pub fn timestamp(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm), valid for the whole proleptic calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

/// A `simple-user`: a person (`User`) or an app's bot account (`Bot`, login ending in `[bot]`).
pub(super) fn user(api: &str, login: &str, id: u64) -> Value {
    let bot = login.ends_with("[bot]");
    let escaped = login.replace('[', "%5B").replace(']', "%5D");
    let base = format!("{api}/users/{escaped}");
    let html = match login.strip_suffix("[bot]") {
        Some(app) => format!("https://github.com/apps/{app}"),
        None => format!("https://github.com/{login}"),
    };
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcnt{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": base,
        "html_url": html,
        "followers_url": format!("{base}/followers"),
        "following_url": format!("{base}/following{{/other_user}}"),
        "gists_url": format!("{base}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/subscriptions"),
        "organizations_url": format!("{base}/orgs"),
        "repos_url": format!("{base}/repos"),
        "events_url": format!("{base}/events{{/privacy}}"),
        "received_events_url": format!("{base}/received_events"),
        "type": if bot { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false
    })
}

/// The GitHub App a deploy bot acts as (`performed_via_github_app`).
pub(super) fn app(api: &str, slug: &str) -> Value {
    json!({
        "id": 8329,
        "slug": slug,
        "node_id": "MDM6QXBwODMyOQ==",
        "client_id": "Iv1.9d7d662ea00b8481",
        "owner": user(api, slug, 14985020),
        "name": slug,
        "description": "",
        "external_url": format!("https://{slug}.com"),
        "html_url": format!("https://github.com/apps/{slug}"),
        "created_at": "2017-12-04T15:49:43Z",
        "updated_at": "2025-01-10T19:02:13Z",
        "permissions": {"deployments": "write", "issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read"},
        "events": ["deployment", "pull_request", "push"]
    })
}

/// A full `repository`.
pub(super) fn repository(api: &str, full_name: &str, id: u64, owner_id: u64) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
    let r = format!("{api}/repos/{full_name}");
    let mut repo = json!({
        "id": id,
        "node_id": "R_kgDOHgAAAA",
        "name": name,
        "full_name": full_name,
        "owner": user(api, owner, owner_id),
        "private": true,
        "html_url": format!("https://github.com/{full_name}"),
        "description": "ci-in-preview fixture repository",
        "fork": false,
        "url": r,
        "git_url": format!("git://github.com/{full_name}.git"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "clone_url": format!("https://github.com/{full_name}.git"),
        "svn_url": format!("https://github.com/{full_name}"),
        "mirror_url": null,
        "homepage": null,
        "language": "Rust",
        "forks_count": 0,
        "stargazers_count": 3,
        "watchers_count": 3,
        "size": 512,
        "default_branch": "main",
        "open_issues_count": 1,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": false,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": "private",
        "pushed_at": "2026-04-22T16:59:00Z",
        "created_at": "2024-01-02T03:04:05Z",
        "updated_at": "2026-04-22T16:59:00Z",
        "allow_forking": false,
        "web_commit_signoff_required": false,
        "license": null,
        "forks": 0,
        "open_issues": 1,
        "watchers": 3
    });
    // The hypermedia URL templates, exactly as GitHub spells them.
    let templates = [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    if let Value::Object(map) = &mut repo {
        for (key, suffix) in templates {
            map.insert(key.to_owned(), format!("{r}{suffix}").into());
        }
    }
    repo
}

pub(super) struct PullSpec<'a> {
    pub api: &'a str,
    pub full_name: &'a str,
    pub repository_id: u64,
    pub owner_id: u64,
    pub number: u64,
    pub head_sha: &'a str,
    pub head_ref: &'a str,
    pub base_sha: &'a str,
    pub merge_sha: &'a str,
    pub created_at: i64,
}

/// A full `pull-request` (GET /repos/{owner}/{repo}/pulls/{number}).
pub(super) fn pull_request(p: &PullSpec<'_>) -> Value {
    let r = format!("{}/repos/{}", p.api, p.full_name);
    let html = format!("https://github.com/{}/pull/{}", p.full_name, p.number);
    let owner = p.full_name.split('/').next().unwrap_or_default();
    let repo = repository(p.api, p.full_name, p.repository_id, p.owner_id);
    let author = user(p.api, "octocat", 1234567);
    let n = p.number;
    json!({
        "url": format!("{r}/pulls/{n}"),
        "id": 1_000_000 + n,
        "node_id": format!("PR_kwDOHg{n:08}"),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{r}/issues/{n}"),
        "commits_url": format!("{r}/pulls/{n}/commits"),
        "review_comments_url": format!("{r}/pulls/{n}/comments"),
        "review_comment_url": format!("{r}/pulls/comments{{/number}}"),
        "comments_url": format!("{r}/issues/{n}/comments"),
        "statuses_url": format!("{r}/statuses/{}", p.head_sha),
        "number": n,
        "state": "open",
        "locked": false,
        "title": "Smoke the CI-in-preview endpoints",
        "user": author,
        "body": "Runs the preview smoke.",
        "labels": [],
        "milestone": null,
        "active_lock_reason": null,
        "created_at": timestamp(p.created_at),
        "updated_at": timestamp(p.created_at),
        "closed_at": null,
        "merged_at": null,
        "merge_commit_sha": p.merge_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": format!("{owner}:{}", p.head_ref),
            "ref": p.head_ref,
            "sha": p.head_sha,
            "user": user(p.api, owner, p.owner_id),
            "repo": repo.clone()
        },
        "base": {
            "label": format!("{owner}:main"),
            "ref": "main",
            "sha": p.base_sha,
            "user": user(p.api, owner, p.owner_id),
            "repo": repo
        },
        "_links": {
            "self": {"href": format!("{r}/pulls/{n}")},
            "html": {"href": html},
            "issue": {"href": format!("{r}/issues/{n}")},
            "comments": {"href": format!("{r}/issues/{n}/comments")},
            "review_comments": {"href": format!("{r}/pulls/{n}/comments")},
            "review_comment": {"href": format!("{r}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{r}/pulls/{n}/commits")},
            "statuses": {"href": format!("{r}/statuses/{}", p.head_sha)}
        },
        "author_association": "MEMBER",
        "auto_merge": null,
        "draft": false,
        "merged": false,
        "mergeable": true,
        "rebaseable": true,
        "mergeable_state": "clean",
        "merged_by": null,
        "comments": 1,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": 1,
        "additions": 10,
        "deletions": 2,
        "changed_files": 1
    })
}

pub(super) struct DeploymentSpec<'a> {
    pub api: &'a str,
    pub full_name: &'a str,
    pub id: u64,
    pub sha: &'a str,
    pub git_ref: &'a str,
    pub environment: &'a str,
    pub created_at: i64,
}

/// A full `deployment`, created by the Vercel app as its integration does.
pub(super) fn deployment(d: &DeploymentSpec<'_>) -> Value {
    let r = format!("{}/repos/{}", d.api, d.full_name);
    let production = d.environment.eq_ignore_ascii_case("production");
    json!({
        "url": format!("{r}/deployments/{}", d.id),
        "id": d.id,
        "node_id": format!("DE_kwDOHg{:08}", d.id),
        "sha": d.sha,
        "ref": d.git_ref,
        "task": "deploy",
        "payload": {},
        "original_environment": d.environment,
        "environment": d.environment,
        "description": null,
        "creator": user(d.api, "vercel[bot]", 35613825),
        "created_at": timestamp(d.created_at),
        "updated_at": timestamp(d.created_at),
        "statuses_url": format!("{r}/deployments/{}/statuses", d.id),
        "repository_url": r,
        "transient_environment": false,
        "production_environment": production,
        "performed_via_github_app": app(d.api, "vercel")
    })
}

pub(super) struct StatusSpec<'a> {
    pub api: &'a str,
    pub full_name: &'a str,
    pub id: u64,
    pub deployment_id: u64,
    pub state: &'a str,
    pub environment: &'a str,
    pub environment_url: Option<&'a str>,
    pub target_url: Option<&'a str>,
    pub created_at: i64,
}

/// A full `deployment-status`.
pub(super) fn deployment_status(s: &StatusSpec<'_>) -> Value {
    let r = format!("{}/repos/{}", s.api, s.full_name);
    json!({
        "url": format!("{r}/deployments/{}/statuses/{}", s.deployment_id, s.id),
        "id": s.id,
        "node_id": format!("DES_kwDOHg{:08}", s.id),
        "state": s.state,
        "creator": user(s.api, "vercel[bot]", 35613825),
        "description": format!("Deployment has {}", s.state),
        "environment": s.environment,
        "target_url": s.target_url.unwrap_or(""),
        "created_at": timestamp(s.created_at),
        "updated_at": timestamp(s.created_at),
        "deployment_url": format!("{r}/deployments/{}", s.deployment_id),
        "repository_url": r,
        "environment_url": s.environment_url.unwrap_or(""),
        "log_url": s.target_url.unwrap_or(""),
        "performed_via_github_app": app(s.api, "vercel")
    })
}

pub(super) struct CommentSpec<'a> {
    pub api: &'a str,
    pub full_name: &'a str,
    pub id: u64,
    pub pull: u64,
    pub author: &'a str,
    pub body: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A full `issue-comment` (pull request conversation comments are issue comments).
pub(super) fn comment(c: &CommentSpec<'_>) -> Value {
    let r = format!("{}/repos/{}", c.api, c.full_name);
    let bot = c.author.ends_with("[bot]");
    json!({
        "id": c.id,
        "node_id": format!("IC_kwDOHg{:08}", c.id),
        "url": format!("{r}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{}/pull/{}#issuecomment-{}", c.full_name, c.pull, c.id),
        "body": c.body,
        "user": user(c.api, c.author, if bot { 35613825 } else { 1234567 }),
        "created_at": timestamp(c.created_at),
        "updated_at": timestamp(c.updated_at),
        "issue_url": format!("{r}/issues/{}", c.pull),
        "author_association": if bot { "NONE" } else { "MEMBER" },
        "performed_via_github_app": if bot { app(c.api, c.author.trim_end_matches("[bot]")) } else { Value::Null },
        "reactions": {
            "url": format!("{r}/issues/comments/{}/reactions", c.id),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        }
    })
}

/// GitHub's error body.
pub(super) fn error(message: &str, status: u16) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn formats_timestamps_like_github() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_776_877_200), "2026-04-22T17:00:00Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}
