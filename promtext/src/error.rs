//! The public error type and the position-carrying failure used while scanning a line.

use std::fmt;

/// A line that could not be parsed.
///
/// The parser reports it and resumes on the next line, so one bad line costs
/// the caller at most that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based number of the offending line (each `\n` starts a new line).
    pub line: usize,
    /// What was wrong, in a form fit for logs.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A failure inside one line. `at` lets the parser resume on the following line
/// without rescanning from the line start; it never lies past the line's `\n`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) at: usize,
    pub(crate) message: String,
}

impl Failure {
    #[cold]
    pub(crate) fn new(at: usize, message: impl Into<String>) -> Self {
        Failure {
            at,
            message: message.into(),
        }
    }
}

/// Quotes a token for an error message, cut short so a runaway line cannot
/// blow up a log record.
#[cold]
pub(crate) fn quoted(token: &str) -> String {
    const MAX: usize = 40;
    if token.len() <= MAX {
        return format!("{token:?}");
    }
    let mut cut = MAX;
    while !token.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{:?}...", &token[..cut])
}
