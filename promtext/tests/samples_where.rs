//! `Parser::samples_where`: the samples a name filter keeps, the same as the full parser gives
//! them, with the other lines passed over and errors where a line cannot be a sample.

use dbmon_promtext::{Entry, Format, ParseError, Parser, Sample, synthetic::cockroach_like_vars};

fn full<'a>(body: &'a str, format: Format, keep: &dyn Fn(&str) -> bool) -> Vec<Sample<'a>> {
    Parser::with_format(body, format)
        .filter_map(|e| match e {
            Ok(Entry::Sample(s)) if keep(s.name) => Some(s),
            _ => None,
        })
        .collect()
}

fn kept<'a>(
    body: &'a str,
    format: Format,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<Result<Sample<'a>, ParseError>> {
    Parser::with_format(body, format)
        .samples_where(|name| keep(name))
        .collect()
}

#[test]
fn the_kept_samples_are_the_full_parsers_on_a_cockroachdb_body() {
    let body = cockroach_like_vars(3);
    let filters: [&dyn Fn(&str) -> bool; 4] = [
        &|name| name == "sys_uptime" || name.starts_with("liveness_"),
        &|name| name.ends_with("_bucket"),
        &|_| true,
        &|_| false,
    ];
    for keep in filters {
        let fast: Vec<Sample> = kept(&body, Format::Prometheus, keep)
            .into_iter()
            .map(|r| r.expect("the body parses"))
            .collect();
        let slow = full(&body, Format::Prometheus, keep);
        assert_eq!(fast, slow);
    }
    let some = kept(&body, Format::Prometheus, &|name| name == "sys_uptime");
    assert_eq!(some.len(), 1, "{some:?}");
}

#[test]
fn lines_passed_over_are_not_read_past_their_names() {
    // A bad value and a bad HELP in families nobody asked for cost nothing.
    let body = "# HELP a what \\q\nskipped{x=\"1\"} not-a-number\nkept 2\n";
    let all: Vec<_> = kept(body, Format::Prometheus, &|n| n == "kept");
    assert_eq!(all.len(), 1);
    let sample = all[0].as_ref().unwrap();
    assert_eq!((sample.name, sample.value), ("kept", 2.0));
}

#[test]
fn lines_that_cannot_be_samples_are_errors_with_their_line_numbers() {
    let body = "up 1\n\n<html><body>login</body></html>\nup_alone\nup{a=\"1\"} 2\n";
    let all = kept(body, Format::Prometheus, &|_| false);
    let lines: Vec<usize> = all
        .iter()
        .map(|r| r.as_ref().map_err(|e| e.line).unwrap_err())
        .collect();
    assert_eq!(lines, [3, 4], "{all:?}");
    // The same errors, at the same lines, as the full parser's.
    let expected: Vec<ParseError> = Parser::new(body).filter_map(Result::err).collect();
    let got: Vec<ParseError> = all.into_iter().map(Result::unwrap_err).collect();
    assert_eq!(got, expected);
}

#[test]
fn a_kept_sample_that_is_bad_is_an_error_at_its_line() {
    let all = kept("a 1\nb{x=\"1\"} nope\nb 3\n", Format::Prometheus, &|n| {
        n == "b"
    });
    assert_eq!(all.len(), 2, "{all:?}");
    let err = all[0].as_ref().unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("bad value"), "{err:?}");
    assert_eq!(all[1].as_ref().unwrap().value, 3.0);
}

#[test]
fn openmetrics_still_ends_at_eof_and_wants_it() {
    let body = "# TYPE a counter\na_total 1\nb 2\n# EOF\n";
    let all = kept(body, Format::OpenMetrics, &|n| n == "b");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].as_ref().unwrap().name, "b");

    let after = kept("b 2\n# EOF\nc 3\n", Format::OpenMetrics, &|_| true);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("after # EOF")
    );

    // A comment that only starts like `# EOF` ends nothing, and what follows is filtered.
    let not_eof = kept("# EOFX\na 1\nb 2\n# EOF\n", Format::OpenMetrics, &|n| {
        n == "b"
    });
    assert_eq!(not_eof.len(), 1, "{not_eof:?}");
    assert_eq!(not_eof[0].as_ref().unwrap().name, "b");

    let cut = kept("b 2\n", Format::OpenMetrics, &|_| false);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert!(
        cut[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("without # EOF")
    );
}
