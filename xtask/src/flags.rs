//! The error type every command returns, and the tiny argument helpers they share.
//!
//! Commands take few options, so a hand-rolled parser keeps xtask free of a CLI framework.

use std::fmt;

/// A command failure: `Usage` exits 2, `Failed` exits 1 (the convention of the CLI too).
#[derive(Debug)]
pub enum Error {
    Usage(String),
    Failed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "usage: {msg} (see `cargo xtask --help`)"),
            Error::Failed(msg) => f.write_str(msg),
        }
    }
}

impl From<xshell::Error> for Error {
    fn from(err: xshell::Error) -> Self {
        Error::Failed(err.to_string())
    }
}

pub type Result<T = ()> = std::result::Result<T, Error>;

pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub fn failed(msg: impl Into<String>) -> Error {
    Error::Failed(msg.into())
}

/// Removes `--name` from `args` and says whether it was there.
pub fn take_switch(args: &mut Vec<String>, name: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

/// Fails on anything a command did not consume.
pub fn reject_rest(args: &[String]) -> Result {
    match args.first() {
        None => Ok(()),
        Some(extra) => Err(usage(format!("unexpected argument `{extra}`"))),
    }
}
