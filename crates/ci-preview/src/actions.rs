//! GitHub Actions conventions: workflow commands, step outputs and the step summary.
//!
//! Workflow commands (`::add-mask::`, `::error::`, `::warning::`) go to **stderr**. The runner reads
//! commands from both streams, and stdout is what a workflow captures (`token=$(ci-preview token
//! ...)`): a mask printed on stdout would end up inside the captured value and never reach the
//! runner. Outside Actions the same messages are plain `error:`/`warning:` lines.
//!
//! Outputs and the summary are files the runner names in `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY`;
//! their format is GitHub's documented one (`name=value`, or the heredoc form with a delimiter that
//! cannot occur in the value). Text that came from the network reaches these sinks only through
//! `crate::untrusted`; as a second line of defence [`progress`] never lets a line start with `::`.

use std::collections::hash_map::RandomState;
use std::fs::OpenOptions;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::env;
use crate::error::{CliError, Result};

/// True inside a GitHub Actions job (`GITHUB_ACTIONS=true`, set by the runner).
pub(crate) fn in_actions() -> bool {
    std::env::var(env::GITHUB_ACTIONS).is_ok_and(|v| v == "true")
}

/// Escapes a workflow command's data the way the runner unescapes it.
pub(crate) fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command property (`title=...`).
pub(crate) fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// Tells the runner to replace `value` with `***` in the job log, before anything prints it.
///
/// A mask applies per line, so a multi-line value is masked line by line. Outside Actions there is
/// no log to scrub and nothing is printed.
pub(crate) fn mask(value: &str) {
    if !in_actions() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // Best effort: if stderr is gone nothing can print the value either.
        let _ = writeln!(stderr, "::add-mask::{}", escape_data(line));
    }
    let _ = stderr.flush();
}

/// An error annotation (Actions) or an `error:` line, with the hint on the following lines.
pub(crate) fn error(title: &str, message: &str) {
    if in_actions() {
        eprintln!(
            "::error title={}::{}",
            escape_property(title),
            escape_data(message)
        );
    } else {
        let mut lines = message.lines();
        eprintln!("error: {}", lines.next().unwrap_or_default());
        for line in lines {
            eprintln!("  {line}");
        }
    }
}

/// A warning annotation (Actions) or a `warning:` line.
pub(crate) fn warning(message: &str) {
    if in_actions() {
        eprintln!("::warning::{}", escape_data(message));
    } else {
        eprintln!("warning: {message}");
    }
}

/// A plain progress line: no colours or spinners, so it reads the same in a CI log and a terminal.
/// A line that would start with `::` is prefixed with `\` so it can never be a workflow command.
pub(crate) fn progress(message: &str) {
    let mut stderr = std::io::stderr().lock();
    for line in message.lines() {
        let guard = if line.trim_start().starts_with("::") {
            "\\"
        } else {
            ""
        };
        let _ = writeln!(stderr, "{guard}{line}");
    }
}

/// The runner's files for variables and outputs (set by the runner in every step).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct RunnerFiles {
    /// The file later steps' environment is read from (set by the runner).
    #[arg(long = "github-env-file", env = env::GITHUB_ENV, hide = true)]
    pub runner_env: Option<PathBuf>,
    /// The step outputs file (set by the runner; `--output-file` is what `smoke` called it).
    #[arg(
        long = "github-output-file",
        alias = "output-file",
        env = env::GITHUB_OUTPUT,
        hide = true
    )]
    pub runner_output: Option<PathBuf>,
}

impl RunnerFiles {
    pub(crate) fn env_file(&self) -> Result<&Path> {
        present(self.runner_env.as_deref(), env::GITHUB_ENV, "--github-env")
    }

    pub(crate) fn output_file(&self) -> Result<&Path> {
        present(
            self.runner_output.as_deref(),
            env::GITHUB_OUTPUT,
            "--github-output",
        )
    }
}

fn present<'a>(path: Option<&'a Path>, var: &str, flag: &str) -> Result<&'a Path> {
    path.filter(|p| !p.as_os_str().is_empty()).ok_or_else(|| {
        CliError::missing_var(
            var,
            &format!("{flag} only works inside a GitHub Actions step"),
        )
    })
}

/// A variable or output name the runner's files can carry: `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn check_var_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(CliError::config(format!(
            "{name:?} is not a valid variable name: use letters, digits, `_` and `-`, starting with a letter"
        )))
    }
}

/// Appends `name=value` to the outputs file, in the heredoc form when the value spans lines.
pub(crate) fn write_output(path: &Path, name: &str, value: &str) -> Result<()> {
    write_record(path, "GITHUB_OUTPUT", name, value)
}

/// Appends `name=value` to `$GITHUB_ENV` or `$GITHUB_OUTPUT` (both use the same format).
pub(crate) fn write_var(path: &Path, name: &str, value: &str) -> Result<()> {
    check_var_name(name)?;
    write_record(path, "the runner's", name, value)
}

fn write_record(path: &Path, var: &str, name: &str, value: &str) -> Result<()> {
    if name.is_empty() || name.contains(['=', '\n', '\r', '<']) {
        return Err(CliError::config(format!("invalid output name {name:?}")));
    }
    let record = if value.contains(['\n', '\r']) {
        let delimiter = delimiter_for(value);
        format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
    } else {
        format!("{name}={value}\n")
    };
    append(path, var, &record)
}

/// Appends Markdown to the step summary file.
pub(crate) fn append_summary(path: &Path, markdown: &str) -> Result<()> {
    let mut text = markdown.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    append(path, "GITHUB_STEP_SUMMARY", &text)
}

fn append(path: &Path, var: &str, text: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| {
            CliError::config(format!("cannot open {var} file {}: {err}", path.display()))
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|err| {
            CliError::config(format!("cannot write {var} file {}: {err}", path.display()))
        })
}

/// A heredoc delimiter that does not occur in `value` (GitHub's toolkit uses the same prefix).
fn delimiter_for(value: &str) -> String {
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        let high = hasher.finish();
        let low = RandomState::new().hash_one(high);
        let delimiter = format!("ghadelimiter_{high:016x}{low:016x}");
        if !value.contains(&delimiter) {
            return delimiter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_runner_unescapes() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn single_line_output_uses_the_short_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_output(&path, "preview-url", "https://x.vercel.app").unwrap();
        write_output(&path, "cookie-length", "42").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "preview-url=https://x.vercel.app\ncookie-length=42\n");
    }

    #[test]
    fn multi_line_output_uses_a_fresh_delimiter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_output(&path, "notes", "line one\nline two").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let delimiter = header.strip_prefix("notes<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(lines.next(), Some("line one"));
        assert_eq!(lines.next(), Some("line two"));
        assert_eq!(lines.next(), Some(delimiter));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn rejects_names_that_would_break_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_output(&dir.path().join("o"), "a=b", "x").is_err());
        assert!(write_output(&dir.path().join("o"), "a\nb", "x").is_err());
        assert!(write_var(&dir.path().join("o"), "1abc", "x").is_err());
        assert!(write_var(&dir.path().join("o"), "A B", "x").is_err());
        write_var(&dir.path().join("o"), "PREVIEW_TOKEN", "x").unwrap();
    }
}
