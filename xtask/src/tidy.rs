//! `cargo xtask tidy`: the rules a reviewer would otherwise enforce by hand, checked on every
//! file of the checkout, in the spirit of rust-analyzer's `xtask/src/tidy.rs`.
//!
//! - Every source file opens by saying why it exists: a `//!` module doc for Rust, a header
//!   comment for scripts.
//! - No source file is over 400 lines unless it states why (a [`LONG_FILES`] entry with the
//!   reason, or a `tidy: long-file <reason>` comment in the file).
//! - Every cited document and section exists: markdown links and their `#anchor`s, and
//!   `FILE.md §N` citations (or a `.md` name followed by an anchor) anywhere; nothing points at
//!   the `shared` folder beside the checkout, which users do not have (`.ci/` may, for CI-only
//!   extras).
//! - No "issue N" references (nor `issue-N`, `issue_N`, `issue #N`, `issues N`): the numbers
//!   belong to a tracker outside the repository, so a reader of the code cannot follow them.
//!   Say what the reference meant instead.
//!
//! Its own files are exempt from the content rules, since they spell out what the rules look for.
//! It also runs as a test (`cargo test -p xtask`), so `cargo test --workspace` catches a lapse.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::flags::{Result, failed};

const MAX_LINES: usize = 400;

/// Source files allowed over [`MAX_LINES`], each with the reason. Prefer splitting the file.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/ci-oidc/tests/verifier/rejections.rs",
        "the rejection table: one row per attack, read as one list; split, it would hide gaps",
    ),
    (
        "crates/ci-oidc/tests/verifier/policy_properties.rs",
        "the policy's property suite: each property next to the generators it shares",
    ),
];

/// Marker a file can carry instead of a [`LONG_FILES`] entry, followed by its reason.
const LONG_FILE_MARKER: &str = "tidy: long-file ";

pub(crate) fn run() -> Result {
    let root = crate::project_root();
    let problems = check(&root, &files(&root)?);
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    match problems.len() {
        0 => Ok(()),
        n => Err(failed(format!(
            "{n} tidy problem(s); each line above names the file and the fix"
        ))),
    }
}

/// The checkout's files: tracked, plus new ones not ignored (so a check before commit sees them).
fn files(root: &Path) -> Result<Vec<String>> {
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| failed(format!("tidy needs git to list the files: {e}")))?;
    if !out.status.success() {
        return Err(failed(
            "`git ls-files` failed: run tidy inside a git checkout",
        ));
    }
    let list = String::from_utf8_lossy(&out.stdout);
    let set: BTreeSet<String> = list
        .split('\0')
        .filter(|p| !p.is_empty() && root.join(p).is_file())
        .map(str::to_owned)
        .collect();
    Ok(set.into_iter().collect())
}

/// The comment a script's header starts with, by extension; Rust is checked separately.
fn script_comment(path: &str) -> Option<&'static [&'static str]> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "sh" | "py" => &["#", "\"\"\""],
        "mjs" | "js" | "ts" => &["//", "/*"],
        "lua" => &["--"],
        _ => return None,
    })
}

fn is_source(path: &str) -> bool {
    path.ends_with(".rs") || script_comment(path).is_some()
}

fn is_text(path: &str) -> bool {
    !path.ends_with(".lock") && !path.ends_with(".json") && !path.contains("/corpus/")
}

/// All problems in `paths` (relative to `root`), one line each.
fn check(root: &Path, paths: &[String]) -> Vec<String> {
    let rules = Rules::new(root, paths);
    let mut problems = Vec::new();
    for path in paths.iter().filter(|p| is_text(p)) {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            continue; // binary files have nothing to check
        };
        rules.file(path, &text, &mut problems);
    }
    problems
}

struct Rules {
    root: PathBuf,
    markdown: Vec<String>,
    link: Regex,
    citation: Regex,
    bare: Regex,
    tracker: Regex,
}

impl Rules {
    fn new(root: &Path, paths: &[String]) -> Self {
        let re = |s: &str| Regex::new(s).expect("tidy's patterns are valid");
        Rules {
            root: root.to_path_buf(),
            markdown: paths
                .iter()
                .filter(|p| p.ends_with(".md"))
                .cloned()
                .collect(),
            link: re(r"\]\(([^)\s]+)\)"),
            citation: re(
                r"([A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md)`?(?:\s*§\s*(\d+)|#([A-Za-z0-9_-]+))",
            ),
            // `DESIGN §2`: a document named without its extension.
            bare: re(r"\b([A-Z][A-Z_-]{2,})`?\s*§\s*\d+"),
            tracker: re(r"(?i)\bissues?[\s_#-]*\d+\b"),
        }
    }

    fn file(&self, path: &str, text: &str, problems: &mut Vec<String>) {
        if is_source(path) {
            self.opening(path, text, problems);
            self.length(path, text, problems);
        }
        if path == "xtask/src/tidy.rs" || path.starts_with("xtask/src/tidy/") {
            return;
        }
        if path.ends_with(".md") {
            self.links(path, text, problems);
        }
        self.citations(path, text, problems);
        for (n, line) in text.lines().enumerate() {
            if let Some(m) = self.tracker.find(line) {
                problems.push(format!(
                    "{path}:{}: `{}` cites an issue tracker outside the repository: say what it meant",
                    n + 1,
                    m.as_str()
                ));
            }
            if line.contains("../shared") && !path.starts_with(".ci/") {
                problems.push(format!(
                    "{path}:{}: `../shared` is outside the repository: point at a file in it",
                    n + 1
                ));
            }
        }
    }

    fn opening(&self, path: &str, text: &str, problems: &mut Vec<String>) {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let ok = if path.ends_with(".rs") {
            lines.next().is_some_and(|l| l.starts_with("//!"))
        } else {
            let starts = script_comment(path).unwrap_or(&[]);
            let first = lines.next().unwrap_or("");
            let header = if first.starts_with("#!") {
                lines.next().unwrap_or("")
            } else {
                first
            };
            starts.iter().any(|s| header.trim_start().starts_with(s))
        };
        if !ok {
            let what = if path.ends_with(".rs") {
                "a `//!` module doc"
            } else {
                "a header comment"
            };
            problems.push(format!(
                "{path}:1: open with {what} saying why the file exists"
            ));
        }
    }

    fn length(&self, path: &str, text: &str, problems: &mut Vec<String>) {
        let lines = text.lines().count();
        let stated = LONG_FILES
            .iter()
            .any(|(p, reason)| *p == path && !reason.is_empty())
            || text.lines().any(|l| {
                l.find(LONG_FILE_MARKER)
                    .is_some_and(|at| l[at + LONG_FILE_MARKER.len()..].trim().len() > 3)
            });
        if lines > MAX_LINES && !stated {
            problems.push(format!(
                "{path}: {lines} lines (limit {MAX_LINES}): split it, or state why in \
                 xtask/src/tidy.rs LONG_FILES or with a `{LONG_FILE_MARKER}<reason>` comment"
            ));
        }
    }

    /// Relative markdown links: the file exists, and a `#anchor` into markdown is a heading.
    fn links(&self, path: &str, text: &str, problems: &mut Vec<String>) {
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        for (n, line) in text.lines().enumerate() {
            for cap in self.link.captures_iter(line) {
                let target = &cap[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let resolved = if file.is_empty() {
                    PathBuf::from(path)
                } else {
                    normalize(&dir.join(file))
                };
                let place = format!("{path}:{}", n + 1);
                if !self.root.join(&resolved).exists() {
                    problems.push(format!(
                        "{place}: link to `{target}`: no such file in the repository"
                    ));
                } else if !anchor.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
                    self.anchor(&place, &resolved, anchor, problems);
                }
            }
        }
    }

    /// `FILE.md §N` and `FILE.md#anchor` in any file: the document and the section exist.
    fn citations(&self, path: &str, text: &str, problems: &mut Vec<String>) {
        for (n, line) in text.lines().enumerate() {
            for cap in self.bare.captures_iter(line) {
                problems.push(format!(
                    "{path}:{}: cites `{}` without a file: cite a file in the repository \
                     (`system-docs/CONTRACT.md` §N)",
                    n + 1,
                    &cap[0]
                ));
            }
            for cap in self.citation.captures_iter(line) {
                // In markdown, links are checked by `links`; only § citations are left here.
                if path.ends_with(".md") && cap.get(3).is_some() {
                    continue;
                }
                let place = format!("{path}:{}", n + 1);
                let cited = &cap[1];
                let Some(doc) = self.resolve(path, cited) else {
                    problems.push(format!(
                        "{place}: cites `{cited}`, which is not in the repository: cite a file in it"
                    ));
                    continue;
                };
                if let Some(section) = cap.get(2) {
                    self.section(&place, &doc, section.as_str(), problems);
                } else if let Some(anchor) = cap.get(3) {
                    self.anchor(&place, &doc, anchor.as_str(), problems);
                }
            }
        }
    }

    /// A cited document: relative to the citing file, to the root, or by a unique file name.
    fn resolve(&self, from: &str, cited: &str) -> Option<PathBuf> {
        let dir = Path::new(from).parent().unwrap_or(Path::new(""));
        for candidate in [normalize(&dir.join(cited)), normalize(Path::new(cited))] {
            if self.markdown.iter().any(|m| Path::new(m) == candidate) {
                return Some(candidate);
            }
        }
        let name = Path::new(cited).file_name()?;
        let mut same_name = self
            .markdown
            .iter()
            .filter(|m| Path::new(m).file_name() == Some(name));
        match (same_name.next(), same_name.next()) {
            (Some(only), None) => Some(PathBuf::from(only)),
            _ => None,
        }
    }

    fn headings(&self, doc: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(self.root.join(doc)).unwrap_or_default();
        let mut in_code = false;
        text.lines()
            .filter(|l| {
                if l.starts_with("```") {
                    in_code = !in_code;
                }
                !in_code && l.starts_with('#')
            })
            .map(|l| l.trim_start_matches('#').trim().to_owned())
            .collect()
    }

    fn section(&self, place: &str, doc: &Path, number: &str, problems: &mut Vec<String>) {
        let found = self.headings(doc).iter().any(|h| {
            h.strip_prefix(number)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with(' '))
        });
        if !found {
            problems.push(format!(
                "{place}: cites {} §{number}, which has no heading numbered {number}",
                doc.display()
            ));
        }
    }

    fn anchor(&self, place: &str, doc: &Path, anchor: &str, problems: &mut Vec<String>) {
        if !self.headings(doc).iter().any(|h| slug(h) == anchor) {
            problems.push(format!(
                "{place}: `{}#{anchor}`: no heading with that anchor",
                doc.display()
            ));
        }
    }
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;
