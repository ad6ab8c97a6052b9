//! Malformed lines: the message, the 1-based line number, and recovery.

mod common;

use common::errors;
use dbmon_promtext::{Entry, ParseError, Parser};

/// The single error of `body`, which must be on `line`, and its message.
fn error_on(body: &str, line: usize) -> String {
    let errs = errors(body);
    assert_eq!(errs.len(), 1, "{body:?} gave {errs:?}");
    assert_eq!(errs[0].line, line, "{body:?} gave {errs:?}");
    errs[0].message.clone()
}

#[test]
fn missing_value() {
    assert!(error_on("ok 1\nlonely\n", 2).contains("missing value"));
    assert!(error_on("ok 1\nm{a=\"b\"}\n", 2).contains("missing value"));
    assert!(error_on("m{a=\"b\"}   ", 1).contains("missing value"));
}

#[test]
fn bad_value() {
    assert!(error_on("m 12x\n", 1).contains("bad value \"12x\""));
    assert!(error_on("\n\nm{a=\"b\"} one\n", 3).contains("bad value"));
}

#[test]
fn bad_timestamp_and_trailing_garbage() {
    assert!(error_on("m 1 1.5\n", 1).contains("bad timestamp"));
    assert!(error_on("m 1 2 3\n", 1).contains("unexpected text"));
}

#[test]
fn unterminated_label_set() {
    assert!(error_on("m{a=\"b\" 1\n", 1).contains("expected ','"));
    assert!(error_on("m{a=\"b\",\nn 2\n", 1).contains("unterminated label set"));
    assert!(error_on("m{a", 1).contains("unterminated label set"));
}

#[test]
fn unterminated_quoted_value() {
    // A raw newline cannot be inside a value, so the next line still parses.
    let body = "m{a=\"b} 1\nn 2\n";
    assert!(error_on(body, 1).contains("unterminated quoted label value"));
    let names: Vec<_> = Parser::new(body)
        .filter_map(|e| match e {
            Ok(Entry::Sample(s)) => Some(s.name),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["n"]);
}

#[test]
fn bad_label_name() {
    assert!(error_on("m{1a=\"b\"} 1\n", 1).contains("bad label name"));
    assert!(error_on("m{a-b=\"c\"} 1\n", 1).contains("bad label name"));
    assert!(error_on("m{a:b=\"c\"} 1\n", 1).contains("bad label name"));
    assert!(error_on("m{a b=\"c\"} 1\n", 1).contains("bad label name"));
}

#[test]
fn label_value_must_be_quoted_and_escapes_valid() {
    assert!(error_on("m{a=b} 1\n", 1).contains("expected '\"'"));
    assert!(error_on("m{a=\"\\t\"} 1\n", 1).contains("invalid escape"));
}

#[test]
fn garbage_lines() {
    assert!(error_on("!!!\n", 1).contains("bad metric name"));
    assert!(error_on("a 1\n9lives 1\n", 2).contains("bad metric name \"9lives\""));
    assert!(error_on("a.b 1\n", 1).contains("bad metric name \"a.b\""));
    assert!(error_on("<html>\n", 1).contains("bad metric name"));
}

#[test]
fn bad_metadata() {
    assert!(error_on("# TYPE m histo\n", 1).contains("unknown metric type \"histo\""));
    assert!(error_on("# TYPE m\n", 1).contains("missing type"));
    assert!(error_on("# HELP m.x text\n", 1).contains("bad metric name"));
}

#[test]
fn parsing_resumes_after_each_bad_line() {
    let body = "a 1\nb x\nc 3\nd{ 4\ne 5";
    let results: Vec<_> = Parser::new(body).collect();
    assert_eq!(results.len(), 5);
    let lines: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.line))
        .collect();
    assert_eq!(lines, [2, 4]);
    let last = results.last().and_then(|r| r.as_ref().ok());
    assert!(matches!(last, Some(Entry::Sample(s)) if s.name == "e"));
}

#[test]
fn error_display_and_source() {
    let err = errors("x\n").remove(0);
    assert_eq!(err.to_string(), format!("line 1: {}", err.message));
    let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
    assert!(boxed.to_string().starts_with("line 1: missing value"));
    assert_eq!(
        err,
        ParseError {
            line: 1,
            message: err.message.clone()
        }
    );
}

#[test]
fn numbers_beyond_f64_and_signed_nan_are_errors() {
    assert!(error_on("m 1e400\n", 1).contains("bad value \"1e400\""));
    assert!(error_on("m -1e400\n", 1).contains("bad value"));
    assert!(error_on("m -NaN\n", 1).contains("bad value \"-NaN\""));
    assert!(error_on("m +nan\n", 1).contains("bad value"));
}

#[test]
fn long_garbage_is_truncated_in_messages() {
    let long = "x".repeat(500);
    let message = error_on(&format!("m {long}\n"), 1);
    assert!(message.len() < 100, "{message}");
}
