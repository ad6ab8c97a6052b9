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
    /// What happened: the evidence for a pass, the problem for a failure. The table prints
    /// a message of several lines (a command's error) on one row, its lines joined by ` ⏎ `.
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
            .map(|c| one_line(&c.name).chars().count())
            .max()
            .unwrap_or(0)
            .max("CHECK".len());
        writeln!(f, "{:width$}  RESULT  DETAILS", "CHECK")?;
        for check in &self.checks {
            writeln!(
                f,
                "{:width$}  {:6}  {}",
                one_line(&check.name),
                check.outcome.as_str(),
                one_line(&check.message)
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

/// Separates the lines of a multi-line message (a command's error that prints a table, a
/// chain of causes) when it is printed on one row of the table.
const LINE_BREAK: &str = " ⏎ ";

/// `text` on one line: its non-blank lines, trimmed, joined by [`LINE_BREAK`].
fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(LINE_BREAK)
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Report};

    #[test]
    fn multi_line_messages_print_on_one_row_each() {
        let mut report = Report::default();
        report.pass("info", "hello 0.1.0".into());
        let table = "refused:\nID  STATE\n1   down\r\n\n";
        report.push("command nodes", Outcome::Failed, table.into());
        report.fail("collect", "two\nlines".into());
        let printed = report.to_string();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(
            lines,
            [
                "CHECK          RESULT  DETAILS",
                "info           pass    hello 0.1.0",
                "command nodes  FAIL    refused: ⏎ ID  STATE ⏎ 1   down",
                "collect        FAIL    two ⏎ lines",
                "conformance: 2 failed (3 checks)",
            ]
        );
        // The checks keep their messages as the connector gave them.
        assert_eq!(report.check("command nodes").unwrap().message, table);
    }
}
