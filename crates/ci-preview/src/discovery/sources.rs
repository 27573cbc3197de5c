//! The two GitHub API sources of `discover`: the Deployments API for a commit and the deploy
//! bot's pull-request comment. Each answers `None` when it has nothing, so the caller can try the
//! next source or poll again. Deployments by anyone but the trusted creators are skipped, and so
//! are statuses (which carry the URL) posted by anyone else on a trusted deployment.

use octocrab::models::{Deployment, DeploymentStatus, DeploymentStatusState};
use regex::Regex;

use super::{DiscoverArgs, Found, Round, abbrev, creator_matches, found, status_trusted};
use crate::error::CliError;
use crate::github::{ApiError, GitHub};
use crate::untrusted;

/// Finds a `*.vercel.app` host anywhere in a comment, including inside Vercel's
/// `vercel.live/open-feedback/<host>` links; the scheme is added when missing.
pub(crate) const DEFAULT_COMMENT_PATTERN: &str =
    r"\b([a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.vercel\.app)\b";
/// GitHub's REST login of the Vercel app.
pub(crate) const DEFAULT_COMMENT_AUTHOR: &str = "vercel[bot]";
/// How many deployments of one commit are looked at per round.
const MAX_DEPLOYMENTS: usize = 10;

pub(super) async fn from_comments(
    github: &GitHub,
    args: &DiscoverArgs,
    pattern: &Regex,
    number: u64,
    sha: Option<&str>,
) -> Result<Option<Found>, ApiError> {
    let mut comments = github.comments(number).await?;
    // Newest first: a deploy bot edits its comment as deployments finish.
    comments.sort_by_key(|c| std::cmp::Reverse(c.updated_at.unwrap_or(c.created_at)));
    let author = args.comment_author.trim();
    let bot_login = format!("{author}[bot]");
    let by_author = comments.iter().filter(|c| {
        c.user.login.eq_ignore_ascii_case(author) || c.user.login.eq_ignore_ascii_case(&bot_login)
    });
    for comment in by_author {
        if let Some(url) = comment
            .body
            .as_deref()
            .and_then(|body| match_url(pattern, body))
        {
            let source = format!(
                "a comment by {} ({})",
                untrusted::text(&comment.user.login),
                untrusted::text(comment.html_url.as_str())
            );
            return found(&url, source, sha.map(str::to_owned))
                .map(Some)
                .map_err(ApiError::Fatal);
        }
    }
    Ok(None)
}

/// `None` when the commit has no deployments by a trusted creator (the next source may answer).
pub(super) async fn from_deployments(
    github: &GitHub,
    args: &DiscoverArgs,
    sha: &str,
) -> Result<Option<Round>, ApiError> {
    let mut deployments = github.deployments(sha, args.environment.as_deref()).await?;
    let before = deployments.len();
    deployments.retain(|d| {
        d.creator
            .as_ref()
            .is_some_and(|creator| creator_matches(args, &creator.login))
    });
    if deployments.len() < before {
        crate::actions::progress(&format!(
            "ignoring {} deployment(s) of {} not created by {}",
            before - deployments.len(),
            abbrev(sha),
            args.deployment_creators.join(", ")
        ));
    }
    if deployments.is_empty() {
        return Ok(None);
    }
    let mut states = Vec::new();
    for deployment in deployments.iter().take(MAX_DEPLOYMENTS) {
        let trusted = |status: &DeploymentStatus| {
            let app = status
                .performed_via_github_app
                .as_ref()
                .and_then(|app| app["slug"].as_str());
            status_trusted(args, status.creator.as_ref().map(|c| c.login.as_str()), app)
        };
        let (status, dropped) = github.latest_status(deployment, trusted).await?;
        if dropped > 0 {
            crate::actions::progress(&format!(
                "ignoring {dropped} status(es) of deployment {} not posted by {}",
                deployment.id.0,
                args.deployment_creators.join(", ")
            ));
        }
        match status {
            Some(status) if status.state == DeploymentStatusState::Success => {
                let url = [
                    status.environment_url.as_deref(),
                    status.target_url.as_deref(),
                ]
                .into_iter()
                .flatten()
                .find(|u| !u.trim().is_empty());
                if let Some(url) = url {
                    let source = describe(deployment, sha);
                    return found(url, source, Some(sha.to_owned()))
                        .map(|f| Some(Round::Found(f)))
                        .map_err(ApiError::Fatal);
                }
                states.push((deployment, "success without a URL".to_owned()));
            }
            Some(status) => states.push((deployment, state_name(status.state).to_owned())),
            None => states.push((deployment, "created, no status yet".to_owned())),
        }
    }
    let all_failed = states.iter().all(|(_, s)| s == "failure" || s == "error");
    let summary = states
        .iter()
        .map(|(d, s)| {
            format!(
                "deployment {} ({}) is {s}",
                d.id.0,
                untrusted::text(&d.environment)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if all_failed {
        return Err(ApiError::Fatal(CliError::check(format!(
            "the preview of {} failed to deploy: {summary}",
            abbrev(sha)
        ))));
    }
    Ok(Some(Round::NotYet(summary)))
}

fn describe(deployment: &Deployment, sha: &str) -> String {
    format!(
        "the Deployments API (deployment {}, environment {}, commit {})",
        deployment.id.0,
        untrusted::text(&deployment.environment),
        abbrev(sha)
    )
}

fn state_name(state: DeploymentStatusState) -> &'static str {
    match state {
        DeploymentStatusState::Error => "error",
        DeploymentStatusState::Failure => "failure",
        DeploymentStatusState::Inactive => "inactive",
        DeploymentStatusState::InProgress => "in_progress",
        DeploymentStatusState::Queued => "queued",
        DeploymentStatusState::Pending => "pending",
        DeploymentStatusState::Success => "success",
    }
}

/// The URL a pattern finds in a comment: group `url`, else group 1, else the whole match.
pub(super) fn match_url(pattern: &Regex, body: &str) -> Option<String> {
    let captures = pattern.captures(body)?;
    let matched = captures
        .name("url")
        .or_else(|| captures.get(1))
        .or_else(|| captures.get(0))?;
    let text = matched.as_str().trim();
    (!text.is_empty()).then(|| {
        if text.contains("://") {
            text.to_owned()
        } else {
            format!("https://{text}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn default_pattern() -> Regex {
        Regex::new(DEFAULT_COMMENT_PATTERN).unwrap()
    }

    #[test]
    fn finds_the_preview_in_a_vercel_comment() {
        let body = "[vc]: #abc\n**The latest updates on your projects**.\n\n| Name | Status | Preview | Updated |\n\
            |---|---|---|---|\n| **v0** | ✅ Ready ([Inspect](https://vercel.com/vercel/v0/AbC123)) | \
            [Visit Preview](https://vercel.live/open-feedback/v0-git-feature-x-vercel.vercel.app?via=pr-comment-visit-preview-link&passThrough=1) | Apr 22, 2026 |";
        assert_eq!(
            match_url(&default_pattern(), body).as_deref(),
            Some("https://v0-git-feature-x-vercel.vercel.app")
        );
    }

    #[test]
    fn ignores_dashboard_links() {
        assert_eq!(
            match_url(
                &default_pattern(),
                "see https://vercel.com/team/project/abc"
            ),
            None
        );
    }

    #[test]
    fn custom_patterns_use_the_url_group() {
        let pattern = Regex::new(r"(?P<url>https://chat-git-[a-z0-9-]+\.vercel\.sh)").unwrap();
        let body = "web: https://web-git-x.vercel.sh chat: https://chat-git-x.vercel.sh";
        assert_eq!(
            match_url(&pattern, body).as_deref(),
            Some("https://chat-git-x.vercel.sh")
        );
    }
}
