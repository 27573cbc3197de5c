//! The one way text from the network reaches the job log, `$GITHUB_OUTPUT` or the step summary.
//!
//! Health is pull-request code and GitHub API fields are written by whoever can deploy or comment,
//! so every such string is hostile. The runner reads workflow commands (`::stop-commands::`,
//! `::add-mask::`) from any line of stdout *and* stderr: one embedded newline in a preview's
//! `environment` could switch command processing off and let the next `::add-mask::<token>` print
//! the token in clear. [`text`] makes a string one inert line; [`markdown`] also makes it inert
//! inside a Markdown table cell; [`commit`] keeps only what a commit id can be.

/// Longest network string shown in a log line; the rest is cut with `…`.
const MAX_CHARS: usize = 300;

/// One inert line: control characters (C0, DEL, C1), line and paragraph separators and bidi
/// controls become visible `\u{..}` escapes, a leading `::` cannot start a workflow command, and
/// the text is cut at [`MAX_CHARS`].
pub(crate) fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_CHARS));
    for (count, ch) in value.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if is_hazard(ch) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(ch)));
        } else {
            out.push(ch);
        }
    }
    // A value printed at the start of a line must not read as a workflow command.
    if out.trim_start().starts_with("::") {
        out.insert(0, '\\');
    }
    out
}

/// [`text`], then HTML and Markdown made inert for a table cell of `$GITHUB_STEP_SUMMARY`:
/// `&<>"'` become entities, and the Markdown punctuation of links, images, emphasis, code,
/// tables and headings is backslash-escaped.
pub(crate) fn markdown(value: &str) -> String {
    let line = text(value);
    let mut out = String::with_capacity(line.len() + 8);
    for ch in line.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A commit id as the preview reports it: exactly 40 hex digits (lower-cased), else unknown.
pub(crate) fn commit(value: &str) -> Option<String> {
    let value = value.trim();
    (value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

fn is_hazard(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_commands_become_one_inert_line() {
        let hostile = "preview\n::stop-commands::x\r\n::add-mask::y\u{2028}z\u{1b}[31m";
        let line = text(hostile);
        assert!(!line.contains(['\n', '\r', '\u{2028}', '\u{1b}']), "{line}");
        assert_eq!(
            line,
            "preview\\u{a}::stop-commands::x\\u{d}\\u{a}::add-mask::y\\u{2028}z\\u{1b}[31m"
        );
        assert_eq!(text("::error::boom"), "\\::error::boom");
        assert_eq!(text("  ::warning::x"), "\\  ::warning::x");
        assert_eq!(
            text("plain https://x.vercel.app"),
            "plain https://x.vercel.app"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let line = text(&"a".repeat(1000));
        assert_eq!(line.chars().count(), MAX_CHARS + 1);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn markdown_and_html_are_inert() {
        let cell = markdown("<img src=x onerror=alert(1)> [link](https://evil) | `x` **b**\n# h");
        for bad in ["<img", "](", "|", "`x`", "**", "\n"] {
            assert!(
                !cell.contains(bad) || cell.contains(&format!("\\{bad}")),
                "{bad} in {cell}"
            );
        }
        assert!(
            cell.starts_with("&lt;img src=x onerror=alert\\(1\\)&gt;"),
            "{cell}"
        );
        assert!(cell.contains("\\[link\\]\\(https://evil\\)"), "{cell}");
        assert!(cell.contains("\\|"), "{cell}");
    }

    #[test]
    fn commits_are_forty_hex_digits() {
        let sha = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567";
        assert_eq!(commit(sha).as_deref(), Some(&*sha.to_ascii_lowercase()));
        for bad in [
            "abc",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f90123456g",
            "",
            &format!("{sha}\n::x"),
        ] {
            assert_eq!(commit(bad), None, "{bad:?}");
        }
    }
}
