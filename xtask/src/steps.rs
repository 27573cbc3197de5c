//! A timed table of named steps, shared by `ci` and `smoke` so both report the same way.

use std::time::Instant;

use crate::flags::{Result, failed};

/// Runs named steps, keeps going or stops as the caller decides, and prints how long each took.
#[derive(Default)]
pub(crate) struct Steps {
    done: Vec<(String, f64, bool)>,
}

impl Steps {
    /// Runs one step and records it; the error names the step.
    pub(crate) fn run<T>(&mut self, name: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let outcome = step();
        self.record(name, started, outcome.as_ref().err());
        outcome.map_err(|e| failed(format!("step `{name}` failed: {e}")))
    }

    /// The async form of [`Steps::run`].
    pub(crate) async fn run_async<T>(
        &mut self,
        name: &str,
        step: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let outcome = step.await;
        self.record(name, started, outcome.as_ref().err());
        outcome.map_err(|e| failed(format!("step `{name}` failed: {e}")))
    }

    fn record(&mut self, name: &str, started: Instant, error: Option<&crate::flags::Error>) {
        let secs = started.elapsed().as_secs_f64();
        match error {
            None => eprintln!("  ok  {name} ({secs:.2} s)"),
            // Callers that go on after a failure drop the error: say why here.
            Some(e) => eprintln!("FAIL  {name} ({secs:.2} s): {e}"),
        }
        self.done.push((name.to_owned(), secs, error.is_none()));
    }

    pub(crate) fn failures(&self) -> usize {
        self.done.iter().filter(|(_, _, ok)| !ok).count()
    }

    /// Prints the table on stderr (stdout stays free for machine-readable output).
    pub(crate) fn print(&self) {
        let width = self
            .done
            .iter()
            .map(|(n, _, _)| n.len())
            .max()
            .unwrap_or(4)
            .max(4);
        eprintln!("\n{:<width$}  {:>8}  result", "step", "seconds");
        for (name, secs, ok) in &self.done {
            let result = if *ok { "ok" } else { "FAILED" };
            eprintln!("{name:<width$}  {secs:>8.2}  {result}");
        }
        let total: f64 = self.done.iter().map(|(_, s, _)| s).sum();
        eprintln!(
            "{:<width$}  {total:>8.2}  {} failed",
            "total",
            self.failures()
        );
    }
}
