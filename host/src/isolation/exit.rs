//! Why a worker process ended, in words an operator reads.

use std::{os::unix::process::ExitStatusExt, process::ExitStatus};

/// `killed by SIGSEGV (segmentation fault)`, `exited with status 3`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let (name, what) = match signal {
            libc::SIGSEGV => ("SIGSEGV", "segmentation fault"),
            libc::SIGABRT => ("SIGABRT", "aborted"),
            libc::SIGBUS => ("SIGBUS", "bus error"),
            libc::SIGILL => ("SIGILL", "illegal instruction"),
            libc::SIGFPE => ("SIGFPE", "arithmetic exception"),
            libc::SIGKILL => ("SIGKILL", "killed, e.g. by the out-of-memory killer"),
            libc::SIGTERM => ("SIGTERM", "terminated"),
            _ => ("signal", "unexpected signal"),
        };
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        if name == "signal" {
            return format!("killed by signal {signal}{core}");
        }
        return format!("killed by {name} ({what}{core})");
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "ended".into(),
    }
}

/// The last line of the worker's stderr that says what went wrong, if any.
pub fn telling_line(lines: &[String]) -> Option<&str> {
    const HINTS: [&str; 5] = [
        "overflowed its stack",
        "panicked",
        "memory allocation",
        "fatal",
        "error",
    ];
    lines
        .iter()
        .rev()
        .find(|l| HINTS.iter().any(|h| l.contains(h)))
        .map(|l| l.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_codes_are_named() {
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGSEGV)),
            "killed by SIGSEGV (segmentation fault)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGABRT | 0x80)),
            "killed by SIGABRT (aborted, core dumped)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        let lines = vec![
            "x".to_string(),
            "thread 'main' has overflowed its stack".into(),
            "y".into(),
        ];
        assert_eq!(
            telling_line(&lines),
            Some("thread 'main' has overflowed its stack")
        );
    }
}
