//! The outcome of a conformance run: one line per check, printed as a table.

use std::fmt;

/// How one check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The connector does what the host expects.
    Passed,
    /// It does not; the message says what happened instead.
    Failed,
    /// Could not run: a check it depends on failed.
    Skipped,
}

impl Outcome {
    /// `pass`, `FAIL` or `skip`, as the table prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "skip",
        }
    }
}

/// One check and what it found.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked (`info`, `collect deadline`, `command probe`).
    pub name: String,
    /// Whether it passed.
    pub outcome: Outcome,
    /// What happened, in one line: the evidence for a pass, the problem for a failure.
    pub message: String,
}

/// Every check of one run, in the order they ran.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The connector's name as its `info` gave it.
    pub connector: String,
    checks: Vec<Check>,
}

impl Report {
    pub(super) fn push(&mut self, name: impl Into<String>, outcome: Outcome, message: String) {
        self.checks.push(Check {
            name: name.into(),
            outcome,
            message,
        });
    }

    pub(super) fn pass(&mut self, name: impl Into<String>, message: String) {
        self.push(name, Outcome::Passed, message);
    }

    pub(super) fn fail(&mut self, name: impl Into<String>, message: String) {
        self.push(name, Outcome::Failed, message);
    }

    /// Records `result` as a pass (Ok) or a failure (Err).
    pub(super) fn record(&mut self, name: impl Into<String>, result: Result<String, String>) {
        match result {
            Ok(message) => self.pass(name, message),
            Err(message) => self.fail(name, message),
        }
    }

    /// Every check, in the order they ran.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Failed)
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Prints the table, then panics listing the failures if any check failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        println!("{self}");
        let failed: Vec<&str> = self.failures().map(|c| c.name.as_str()).collect();
        if !failed.is_empty() {
            panic!(
                "connector '{}' failed {} of {} conformance checks ({}):\n{self}",
                self.connector,
                failed.len(),
                self.checks.len(),
                failed.join(", ")
            );
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("CHECK".len());
        writeln!(f, "{:width$}  RESULT  DETAILS", "CHECK")?;
        for check in &self.checks {
            writeln!(
                f,
                "{:width$}  {:6}  {}",
                check.name,
                check.outcome.as_str(),
                check.message
            )?;
        }
        let failed = self.failures().count();
        let verdict = if failed == 0 {
            "conformance: passed".to_string()
        } else {
            format!("conformance: {failed} failed")
        };
        write!(f, "{verdict} ({} checks)", self.checks.len())
    }
}
