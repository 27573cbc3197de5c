//! The one error type every subcommand returns, and the exit code it maps to.
//!
//! Workflows branch on the exit code, so the split matters more than the text: 1 means the check
//! ran and the remote said no (refused, timed out, a malformed answer), 2 means the job is set up
//! wrong and re-running it will not help (a missing variable, a bad flag, a missing permission).
//! Every message names what was seen and, where there is one, the fix.

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The check ran and failed: exit 1.
    Check,
    /// Usage or configuration error: exit 2.
    Config,
}

#[derive(Debug)]
pub(crate) struct CliError {
    pub kind: Kind,
    pub message: String,
    /// A longer explanation of the likely causes, printed on its own lines.
    pub hint: Option<String>,
}

pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub(crate) fn check(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Check,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Config,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A variable the job must provide is missing; `fix` says how to provide it.
    pub(crate) fn missing_var(name: &str, fix: &str) -> Self {
        Self::config(format!("{name} is not set: {fix}"))
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::Check => ExitCode::from(1),
            Kind::Config => ExitCode::from(2),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

/// Renders an error and its sources on one line, the way a CI log reads best.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
