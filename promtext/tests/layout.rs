//! Line endings, blank lines and whitespace between tokens.

mod common;

use common::{entries, errors, samples};

fn names_and_values(body: &str) -> Vec<(&str, f64)> {
    samples(body).iter().map(|s| (s.name, s.value)).collect()
}

#[test]
fn crlf_line_endings() {
    let body = "# HELP a Some help\r\n# TYPE a counter\r\na{x=\"1\"} 1\r\nb 2 77\r\n";
    assert_eq!(entries(body).len(), 4);
    let all = samples(body);
    assert_eq!(all[0].label("x").as_deref(), Some("1"));
    assert_eq!((all[1].value, all[1].timestamp_ms), (2.0, Some(77)));
    let help = &entries(body)[0];
    assert!(format!("{help:?}").contains("\"Some help\""), "{help:?}");
}

#[test]
fn no_final_newline() {
    assert_eq!(names_and_values("a 1\nb 2"), [("a", 1.0), ("b", 2.0)]);
    assert_eq!(
        samples("a{x=\"y\"} 3 4").first().map(|s| s.timestamp_ms),
        Some(Some(4))
    );
}

#[test]
fn blank_and_whitespace_only_lines_are_skipped() {
    let body = "\n\na 1\n\n  \t\n\r\nb 2\n\n \t";
    assert_eq!(names_and_values(body), [("a", 1.0), ("b", 2.0)]);
    assert!(samples("").is_empty());
}

#[test]
fn tabs_and_runs_of_spaces_separate_tokens() {
    let all = samples("  a\t\t1 \t 9\nb{c=\"d\"}\t2\nc   3   \n");
    let got: Vec<_> = all
        .iter()
        .map(|s| (s.name, s.value, s.timestamp_ms))
        .collect();
    assert_eq!(
        got,
        [("a", 1.0, Some(9)), ("b", 2.0, None), ("c", 3.0, None)]
    );
}

#[test]
fn metric_names_allow_colons_digits_and_underscores() {
    let body = "job:rpc_durations:rate5m 1\n_hidden 2\nsys_host_disk_l0_1 3\n";
    let names: Vec<_> = samples(body).iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["job:rpc_durations:rate5m", "_hidden", "sys_host_disk_l0_1"]
    );
}

#[test]
fn errors_do_not_shift_later_line_numbers() {
    // Line numbers must count blank, comment and CRLF lines alike.
    let body = "\r\n# c\r\n\r\nbad\r\n";
    let errs = errors(body);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 4);
}
