//! `ci-preview policy check --base REF [--head REF] [--policy PATH]`: allowlist changes land on
//! main before the workflows that use them.
//!
//! A committer who adds a workflow and, in the same pull request, adds it to an endpoint's
//! allowlist gets a preview that serves the new grant to the new workflow before anyone reviewed
//! either (workflow pinning does not stop in-PR exploitation). This check reads the policy at the
//! base and at the head, lists every grant the head adds (for the reviewer, in the step summary),
//! and fails (exit 1) when an added workflow grant names a workflow file the same pull request
//! adds or modifies, saying which grant, which file and how to split the pull request. Bad input
//! (unknown ref, no policy, an invalid one) is exit 2. It needs only `git` and reads nothing but
//! the two policy files and the list of changed paths (`policy_change/git.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ci_endpoint::server::Policy;

use crate::actions;
use crate::error::{CliError, Result};
use crate::policy_change::git::Repo;
use crate::policy_change::grants::{self, Grant};
use crate::untrusted;

/// The policy's usual file name, looked for when `--policy` is not given.
const POLICY_NAME: &str = "ci-policy.toml";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PolicyCommand {
    /// List the grants a pull request adds to the policy; fail (exit 1) when one names a workflow
    /// the same pull request adds or modifies.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The pull request's base: a commit, branch or tag this repository has (in a workflow,
    /// `${{ github.event.pull_request.base.sha }}`).
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The pull request's head.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub head: String,
    /// The policy file's path (at the head, or at the base if the pull request moved it)
    /// [default: the one file named ci-policy.toml in the head's tree].
    #[arg(long, env = crate::env::CI_PREVIEW_POLICY_PATH, value_name = "PATH")]
    pub policy: Option<String>,
    /// This repository, OWNER/NAME: a workflow entry of another repository is not a file this
    /// pull request can change [default: $GITHUB_REPOSITORY; unset: every entry's path counts].
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// The git repository to read [default: the current directory].
    #[arg(long = "git-dir", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Where the reviewer's list goes (set by the runner).
    #[arg(long, env = "GITHUB_STEP_SUMMARY", value_name = "FILE", hide = true)]
    pub summary_file: Option<PathBuf>,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    match args.command {
        PolicyCommand::Check(args) => check(&args),
    }
}

/// A grant that names a workflow this pull request adds or modifies.
#[derive(Debug)]
struct SamePr<'a> {
    grant: &'a Grant,
    path: String,
    change: &'static str,
}

fn check(args: &CheckArgs) -> Result<()> {
    let repo = Repo::new(args.dir.clone());
    let base = repo.commit("--base", &args.base)?;
    let head = repo.commit("--head", &args.head)?;
    let merge_base = repo.merge_base(&base, &head)?;
    let (base_path, head_path) = locate(&repo, &base, &head, args.policy.as_deref())?;

    let head_text = repo.read(&head, &head_path)?.ok_or_else(|| {
        CliError::config(format!(
            "no policy at {} in the head: pass its path with --policy",
            untrusted::text(&head_path)
        ))
    })?;
    let head_policy = parse(&head_text, &head_path, "head")?;
    let base_policy = match repo.read(&base, &base_path)? {
        Some(text) => Some(parse(&text, &base_path, "base")?),
        None => None,
    };
    let added = grants::added(base_policy.as_ref(), &head_policy);

    // What the pull request itself changed (from the merge base, so the base's own later commits
    // do not count), renames as deletion plus addition: a renamed workflow is a new file.
    let changed: BTreeMap<String, char> = repo
        .changes(&merge_base, &head, false)?
        .into_iter()
        .filter(|c| matches!(c.status, 'A' | 'M' | 'T'))
        .map(|c| (c.path, c.status))
        .collect();
    let repository = args
        .repository
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let same_pr: Vec<SamePr<'_>> = added
        .iter()
        .filter_map(|grant| {
            let path = grants::local_path(grant.workflow.as_deref()?, repository)?;
            let change = match changed.get(&path)? {
                'A' => "adds",
                _ => "modifies",
            };
            Some(SamePr {
                grant,
                path,
                change,
            })
        })
        .collect();

    print_report(
        &head_path,
        &base_path,
        base_policy.is_some(),
        &added,
        &same_pr,
        repository,
    );
    if let Some(summary) = args
        .summary_file
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        actions::append_summary(summary, &summary_markdown(&head_path, &added, &same_pr))?;
    }
    if same_pr.is_empty() {
        return Ok(());
    }
    let files: Vec<String> = same_pr.iter().map(|s| untrusted::text(&s.path)).collect();
    Err(CliError::check(format!(
        "{} grant(s) in {} name a workflow this pull request {}: {}",
        same_pr.len(),
        untrusted::text(&head_path),
        if same_pr.iter().all(|s| s.change == "adds") {
            "adds"
        } else {
            "adds or modifies"
        },
        files.join(", ")
    ))
    .with_hint(format!(
        "Split the pull request: first land the policy change alone (it grants a workflow that \
         main already has, or will have, reviewed), then open a second pull request with the \
         workflow change ({}). A grant and the workflow it trusts must not arrive together: the \
         pull request's preview would serve the grant to its own unreviewed workflow.",
        files.join(", ")
    )))
}

/// The policy's path at the base and at the head. A `--policy` path (or the one
/// `ci-policy.toml`) is followed across a rename in either direction, so moving the policy
/// does not hide it; a policy missing at the base is new (everything in it is an addition).
fn locate(repo: &Repo, base: &str, head: &str, given: Option<&str>) -> Result<(String, String)> {
    let renames = repo.changes(base, head, true)?;
    let path = match given {
        Some(path) => path.trim_start_matches("./").to_owned(),
        None => {
            let found = repo.find(head, POLICY_NAME)?;
            match found.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(CliError::config(format!(
                        "the head has no file named {POLICY_NAME}: pass the policy's path with \
                         --policy"
                    )));
                }
                several => {
                    return Err(CliError::config(format!(
                        "the head has {} files named {POLICY_NAME} ({}): name the one the \
                         deployment serves with --policy",
                        several.len(),
                        untrusted::text(&several.join(", "))
                    )));
                }
            }
        }
    };
    let renamed_from = |to: &str| {
        renames
            .iter()
            .find(|c| c.status == 'R' && c.path == to)
            .and_then(|c| c.from.clone())
    };
    let renamed_to = |from: &str| {
        renames
            .iter()
            .find(|c| c.status == 'R' && c.from.as_deref() == Some(from))
            .map(|c| c.path.clone())
    };
    if repo.read(head, &path)?.is_none()
        && let Some(moved) = renamed_to(&path)
    {
        return Ok((path, moved));
    }
    let base_path = renamed_from(&path).unwrap_or_else(|| path.clone());
    Ok((base_path, path))
}

fn parse(text: &str, path: &str, side: &str) -> Result<Policy> {
    Policy::from_toml_str(text).map_err(|err| {
        CliError::config(format!(
            "the policy at {} in the {side} is not one the server would start with: {}",
            untrusted::text(path),
            untrusted::text(&err.to_string())
        ))
    })
}

fn print_report(
    head_path: &str,
    base_path: &str,
    base_exists: bool,
    added: &[Grant],
    same_pr: &[SamePr<'_>],
    repository: Option<&str>,
) {
    let mut out = format!("policy: {}", untrusted::text(head_path));
    if !base_exists {
        out.push_str(" (new: the base has none)");
    } else if base_path != head_path {
        out.push_str(&format!(" (moved from {})", untrusted::text(base_path)));
    }
    out.push('\n');
    if repository.is_none() {
        out.push_str(
            "repository unknown (--repository, GITHUB_REPOSITORY): every workflow entry is \
             matched by its path\n",
        );
    }
    if added.is_empty() {
        out.push_str("grants added: none\n");
    } else {
        out.push_str(&format!(
            "grants added ({}), for the reviewer:\n",
            added.len()
        ));
        for grant in added {
            out.push_str(&format!(
                "  + {}: {}\n",
                untrusted::text(&grant.key),
                untrusted::text(&grant.what)
            ));
        }
    }
    for hit in same_pr {
        out.push_str(&format!(
            "same-PR grant: {} {} names {}, which this pull request {}\n",
            untrusted::text(&hit.grant.key),
            untrusted::text(&hit.grant.what),
            untrusted::text(&hit.path),
            hit.change
        ));
    }
    print!("{out}");
}

fn summary_markdown(head_path: &str, added: &[Grant], same_pr: &[SamePr<'_>]) -> String {
    let mut md = format!("### Policy check: `{}`\n\n", untrusted::markdown(head_path));
    if same_pr.is_empty() {
        md.push_str("No grant names a workflow this pull request adds or modifies.\n\n");
    } else {
        md.push_str(
            "**Failed:** these grants name a workflow this pull request adds or modifies. Land \
             the policy change alone first, then the workflow.\n\n| grant | workflow file | change |\n|---|---|---|\n",
        );
        for hit in same_pr {
            md.push_str(&format!(
                "| {} {} | {} | {} |\n",
                untrusted::markdown(&hit.grant.key),
                untrusted::markdown(&hit.grant.what),
                untrusted::markdown(&hit.path),
                hit.change
            ));
        }
        md.push('\n');
    }
    if added.is_empty() {
        md.push_str("Grants added: none.\n");
    } else {
        md.push_str("Grants added, for the reviewer:\n\n| key | added |\n|---|---|\n");
        for grant in added {
            md.push_str(&format!(
                "| {} | {} |\n",
                untrusted::markdown(&grant.key),
                untrusted::markdown(&grant.what)
            ));
        }
    }
    md
}
