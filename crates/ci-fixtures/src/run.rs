//! What a command-line program printed and how it exited, with the assertions its tests repeat:
//! the exit code and what stderr says (each failure prints the whole output), and the job-log
//! rules for secrets and workflow commands.

/// A finished run of a program.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`-1` when a signal ended it).
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Stdout then stderr.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The program exited with `code` and its stderr contains each of `texts`.
    #[track_caller]
    pub fn assert_exit(&self, code: i32, texts: &[&str]) -> &Self {
        assert_eq!(self.code, code, "exit code; the output:\n{}", self.all());
        self.assert_stderr_has(texts)
    }

    /// The program exited with 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_exit(0, &[])
    }

    /// Stderr contains each of `texts`.
    #[track_caller]
    pub fn assert_stderr_has(&self, texts: &[&str]) -> &Self {
        for text in texts {
            assert!(
                self.stderr.contains(text),
                "stderr lacks {text:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// `secret` may only appear on `::add-mask::` lines.
    #[track_caller]
    pub fn assert_masked_only(&self, secret: &str) {
        for line in self.stdout.lines().chain(self.stderr.lines()) {
            assert!(
                !line.contains(secret) || line.starts_with("::add-mask::"),
                "secret printed outside a mask: {line}"
            );
        }
    }

    /// No line may start a workflow command except a program's own masks and annotations.
    #[track_caller]
    pub fn assert_no_injected_commands(&self) {
        for line in self.stdout.lines().chain(self.stderr.lines()) {
            let line = line.trim_start();
            let ours = ["::add-mask::", "::error", "::warning::"];
            assert!(
                !line.starts_with("::") || ours.iter().any(|p| line.starts_with(p)),
                "a workflow command from the network: {line}"
            );
            assert!(
                !line.contains("::stop-commands::") || !line.starts_with("::"),
                "{line}"
            );
        }
    }

    /// `secret` appears nowhere in the output.
    #[track_caller]
    pub fn assert_never(&self, secret: &str) {
        assert!(
            !self.all().contains(secret),
            "secret printed:\n{}",
            self.all()
        );
    }
}
