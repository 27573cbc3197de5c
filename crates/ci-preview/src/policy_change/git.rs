//! The only way `policy check` reads the repository: `git` plumbing on two commits. It reads the
//! changed paths between them and the bytes of one file at each, and nothing else: no checkout,
//! no hook, no filter or diff driver (the pull request's code is never run, nor its
//! `.gitattributes` consulted), so a pull request cannot change how the check runs.

use std::path::PathBuf;
use std::process::Command;

use crate::error::{CliError, Result};

/// A change between the merge base and the head, as `git diff --name-status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// `A` added, `M` modified, `T` type changed, `D` deleted, `R` renamed (with renames on).
    pub status: char,
    /// The path at the head (for a deletion, the path that went).
    pub path: String,
    /// For a rename, the path it had before.
    pub from: Option<String>,
}

/// A repository `git` can read, and the two commits being compared.
#[derive(Debug)]
pub(crate) struct Repo {
    dir: PathBuf,
}

impl Repo {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>> {
        let output = Command::new("git")
            .current_dir(&self.dir)
            // Plumbing only, whatever the user's or the runner's configuration says.
            .args(["-c", "core.quotepath=off", "--no-pager"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_EXTERNAL_DIFF")
            .output()
            .map_err(|err| {
                CliError::config(format!(
                    "cannot run git ({err}): policy check needs git on PATH"
                ))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(CliError::config(format!(
                "git {} failed: {}",
                args.join(" "),
                crate::untrusted::text(stderr.trim())
            )));
        }
        Ok(output.stdout)
    }

    /// The commit `reference` names; a clear error when it names none (not fetched, a typo).
    pub(crate) fn commit(&self, flag: &str, reference: &str) -> Result<String> {
        if reference.starts_with('-') || reference.trim().is_empty() {
            return Err(CliError::config(format!(
                "{flag} {reference:?} is not a git reference"
            )));
        }
        let spec = format!("{reference}^{{commit}}");
        let out = self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .map_err(|_| {
                CliError::config(format!(
                    "{flag} {}: no such commit in this repository (is it fetched? \
                     actions/checkout needs `fetch-depth: 0`, or fetch both commits)",
                    crate::untrusted::text(reference)
                ))
            })?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// The best common ancestor: what the pull request changed is measured from here.
    pub(crate) fn merge_base(&self, base: &str, head: &str) -> Result<String> {
        let out = self.git(&["merge-base", base, head]).map_err(|_| {
            CliError::config(
                "the base and head have no common history here: fetch the whole history \
                 (actions/checkout with `fetch-depth: 0`)",
            )
        })?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Every path that differs between `from` and `to`. Without renames a renamed file is a
    /// deletion and an addition (so a renamed workflow counts as added); with them, renames of
    /// TOML files are reported as such (to follow a moved policy). Rename detection compares
    /// contents, so it is limited to TOML files: no other file of the pull request is read.
    pub(crate) fn changes(&self, from: &str, to: &str, renames: bool) -> Result<Vec<Change>> {
        let (rename_flag, pathspec) = if renames {
            ("-M", ":(top,glob)**/*.toml")
        } else {
            ("--no-renames", ":/")
        };
        let out = self.git(&[
            "diff",
            "--name-status",
            "-z",
            "--no-ext-diff",
            "--no-textconv",
            rename_flag,
            from,
            to,
            "--",
            pathspec,
        ])?;
        let mut fields = out
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned());
        let mut changes = Vec::new();
        while let Some(status) = fields.next() {
            let Some(kind) = status.chars().next() else {
                break;
            };
            let first = fields.next().unwrap_or_default();
            let change = if matches!(kind, 'R' | 'C') {
                let to = fields.next().unwrap_or_default();
                Change {
                    status: kind,
                    path: to,
                    from: Some(first),
                }
            } else {
                Change {
                    status: kind,
                    path: first,
                    from: None,
                }
            };
            changes.push(change);
        }
        Ok(changes)
    }

    /// Paths of files named `name` anywhere in `commit`'s tree.
    pub(crate) fn find(&self, commit: &str, name: &str) -> Result<Vec<String>> {
        let out = self.git(&["ls-tree", "--full-tree", "-r", "-z", "--name-only", commit])?;
        Ok(out
            .split(|b| *b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| p.rsplit('/').next() == Some(name))
            .collect())
    }

    /// The text of the regular file at `path` in `commit`; `None` when there is none.
    pub(crate) fn read(&self, commit: &str, path: &str) -> Result<Option<String>> {
        let listing = self.git(&["ls-tree", "--full-tree", "-z", commit, "--", path])?;
        let listing = String::from_utf8_lossy(&listing);
        let Some(entry) = listing.split('\0').find(|e| !e.is_empty()) else {
            return Ok(None);
        };
        // "<mode> <type> <object>\t<path>"
        let mut meta = entry.split('\t').next().unwrap_or_default().split(' ');
        let (mode, kind, object) = (meta.next(), meta.next(), meta.next());
        if kind != Some("blob") || !matches!(mode, Some("100644" | "100755")) {
            return Err(CliError::config(format!(
                "{path} at {commit} is not a regular file (a symbolic link or a folder): the \
                 policy must be a plain file"
            )));
        }
        let bytes = self.git(&["cat-file", "blob", object.unwrap_or_default()])?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CliError::config(format!("{path} at {commit} is not UTF-8 text")))
    }
}
