//! Every `cargo xtask` command and flag, declared once, and the error type commands return.
//!
//! Commands take few options, so a hand-rolled parser keeps xtask free of a CLI framework; the
//! price is that help text could drift from what the commands accept. So the table below is the
//! only place a flag is declared: `--help` is printed from it, the `take_*` helpers refuse a flag
//! it lacks (debug builds, which is how `cargo xtask` runs), and a test checks every flag the
//! sources consume is in it.

use std::fmt;

/// One command: its name, positional arguments, one line of purpose, and its flags.
pub(crate) struct Command {
    pub name: &'static str,
    pub operands: &'static str,
    pub about: &'static str,
    pub flags: &'static [Flag],
}

/// One flag: `--name`, the placeholder of its value (`None` for a switch), what it does.
pub(crate) struct Flag {
    pub name: &'static str,
    pub value: Option<&'static str>,
    pub help: &'static str,
}

const fn switch(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: None,
        help,
    }
}

const fn valued(name: &'static str, value: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        value: Some(value),
        help,
    }
}

pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "ci",
        operands: "",
        about: "what CI runs: fmt, clippy, tidy, tests, smoke, container suite, scaffold, workflow linters",
        flags: &[switch(
            "--quick",
            "leave out the scaffold check, the workflow linters and fuzzing",
        )],
    },
    Command {
        name: "smoke",
        operands: "",
        about: "end-to-end run of the real server and client against in-process mocks",
        flags: &[
            switch(
                "--docker",
                "run the server in the FROM-scratch image (testcontainers)",
            ),
            switch(
                "--vercel",
                "run the Vercel function binary under an emulated Vercel host instead of the server",
            ),
            switch(
                "--no-build",
                "use the binaries already built instead of building them first",
            ),
        ],
    },
    Command {
        name: "e2e",
        operands: "",
        about: "the Next.js example in Chromium behind an emulated Vercel edge (HTTPS, rewrites, protection), state from ci-preview",
        flags: &[
            valued(
                "--flag",
                "NAME=VALUE",
                "a flag override (repeatable; default: every example flag away from its default)",
            ),
            valued(
                "--user",
                "SUB",
                "the test user's subject (default e2e-user-1)",
            ),
            switch(
                "--no-protection",
                "no Deployment Protection on the edge (and no protection cookie in the state)",
            ),
        ],
    },
    Command {
        name: "tidy",
        operands: "",
        about: "source hygiene: module docs, file length, citations resolve, no outside tracker numbers",
        flags: &[],
    },
    Command {
        name: "image",
        operands: "",
        about: "build the static server binary and the FROM-scratch image",
        flags: &[],
    },
    Command {
        name: "bench",
        operands: "",
        about: "benchmarks side by side with their anchors (both kinds unless one is named)",
        flags: &[
            switch(
                "--load",
                "wrk load: release server beside bench/node-reference, RSS, exec -> first 200",
            ),
            switch(
                "--micro",
                "criterion: the verifier beside raw RSA, and the cookie codec",
            ),
        ],
    },
    Command {
        name: "soak",
        operands: "",
        about: "saturation run with JWKS faults and a key rotation; pass/fail criteria",
        flags: &[
            valued("--seconds", "N", "length of the run (default 60)"),
            valued(
                "--workers",
                "N",
                "concurrent valid-call workers (default 24)",
            ),
            switch(
                "--no-build",
                "use the release binary already built instead of building it",
            ),
        ],
    },
    Command {
        name: "new-endpoint",
        operands: "NAME",
        about: "scaffold an endpoint crate (NAME like `reports/upload`), register it, add a policy entry",
        flags: &[valued(
            "--root",
            "DIR",
            "scaffold into that checkout instead of this one",
        )],
    },
];

/// Variables xtask or the suites it runs read, with what they change.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "CI_PREVIEW_REQUIRE_DOCKER=1",
        "no Docker engine is a failure instead of a skip",
    ),
    (
        "CI_PREVIEW_FUZZ=1",
        "`ci` runs each fuzz target briefly (nightly; FUZZ_SECONDS each, default 10)",
    ),
    (
        "CI_PREVIEW_SDK_CHECK_DIR=DIR",
        "folder with `npm install flags@4.3.1`: the live Flags SDK round trip runs",
    ),
    (
        "CI_PREVIEW_REQUIRE_E2E=1",
        "`ci` fails instead of skipping `e2e` when Node.js, Chromium or the example's packages are missing",
    ),
    (
        "CI_PREVIEW_REQUIRE_SDK=1",
        "a missing SDK folder fails the round trip instead of skipping it",
    ),
    (
        "CARGO_TARGET_DIR",
        "where the binaries that smoke, soak and image run are found",
    ),
];

fn flag_synopsis(flag: &Flag) -> String {
    match flag.value {
        Some(value) => format!("{} {value}", flag.name),
        None => flag.name.to_owned(),
    }
}

fn write_command(out: &mut String, command: &Command) {
    let head = [command.name, command.operands]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    out.push_str(&format!("  {head:<20}{}\n", command.about));
    for flag in command.flags {
        out.push_str(&format!("    {:<18}{}\n", flag_synopsis(flag), flag.help));
    }
}

/// `cargo xtask --help`: every command with every flag, then the environment.
pub(crate) fn help() -> String {
    let mut out = String::from(
        "cargo xtask <command> [flags]   (`cargo xtask <command> --help` for one)\n\nCommands:\n",
    );
    for command in COMMANDS {
        write_command(&mut out, command);
    }
    out.push_str("\nEnvironment:\n");
    for (name, what) in ENVIRONMENT {
        out.push_str(&format!("  {name:<30}{what}\n"));
    }
    out
}

/// `cargo xtask NAME --help`.
pub(crate) fn command_help(command: &Command) -> String {
    let flags = if command.flags.is_empty() {
        ""
    } else {
        "[flags]"
    };
    let synopsis = ["cargo xtask", command.name, command.operands, flags]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = format!("{synopsis}\n\n");
    write_command(&mut out, command);
    out
}

pub(crate) fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

fn declared(name: &str) -> bool {
    COMMANDS
        .iter()
        .flat_map(|c| c.flags)
        .any(|f| f.name == name)
}

/// A command failure: `Usage` exits 2, `Failed` exits 1 (the convention of the CLI too).
#[derive(Debug)]
pub(crate) enum Error {
    Usage(String),
    Failed(String),
}

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
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

pub(crate) type Result<T = ()> = std::result::Result<T, Error>;

pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub(crate) fn failed(msg: impl Into<String>) -> Error {
    Error::Failed(msg.into())
}

/// Removes `--name` from `args` and says whether it was there.
pub(crate) fn take_switch(args: &mut Vec<String>, name: &str) -> bool {
    debug_assert!(
        declared(name),
        "{name} is not declared in xtask/src/flags.rs"
    );
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

/// Removes `--name VALUE` from `args` and returns the value.
pub(crate) fn take_value(args: &mut Vec<String>, name: &str) -> Result<Option<String>> {
    debug_assert!(
        declared(name),
        "{name} is not declared in xtask/src/flags.rs"
    );
    let Some(at) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    if at + 1 >= args.len() {
        return Err(usage(format!("{name} needs a value")));
    }
    let value = args.remove(at + 1);
    args.remove(at);
    Ok(Some(value))
}

/// `--name N` as a number.
pub(crate) fn take_number(args: &mut Vec<String>, name: &str) -> Result<Option<u64>> {
    match take_value(args, name)? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| usage(format!("{name} needs a number, got `{text}`"))),
    }
}

/// Fails on anything a command did not consume.
pub(crate) fn reject_rest(args: &[String]) -> Result {
    match args.first() {
        None => Ok(()),
        Some(extra) => Err(usage(format!("unexpected argument `{extra}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag a command consumes (the literal given to a `take_*` helper) is declared above, so the
    /// help cannot leave one out.
    #[test]
    fn every_consumed_flag_is_declared() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("(&mut args, \"").skip(1) {
                let flag = &piece[..piece.find('"').unwrap()];
                assert!(declared(flag), "{}: {flag} is not declared", path.display());
                checked += 1;
            }
        }
        assert!(
            checked >= 6,
            "found only {checked} flag uses: did the helpers change?"
        );
    }

    #[test]
    fn help_lists_every_command_and_flag() {
        let help = help();
        for command in COMMANDS {
            assert!(
                help.contains(&format!("  {}", command.name)),
                "{}",
                command.name
            );
            for flag in command.flags {
                assert!(help.contains(flag.name), "{}", flag.name);
                assert!(command_help(command).contains(flag.help));
            }
        }
    }
}
