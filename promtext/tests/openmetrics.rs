//! OpenMetrics text, parsed by its own rules: seconds timestamps, escapes, `# EOF`, exemplars;
//! and the same input in the 0.0.4 format, which reads some of it differently.

mod common;

use common::{entries, errors, om_errors, om_results, om_samples, samples};
use dbmon_promtext::{ACCEPT, Entry, Format, MetricType, Parser};
use std::borrow::Cow;

#[test]
fn timestamps_are_seconds_and_may_be_fractional() {
    let all = om_samples("go_goroutines 33 123.123\nup 1 1000\nlate 2 -1.5\n# EOF\n");
    let stamps: Vec<_> = all.iter().map(|s| (s.name, s.timestamp_ms)).collect();
    assert_eq!(
        stamps,
        [
            ("go_goroutines", Some(123_123)),
            ("up", Some(1_000_000)),
            ("late", Some(-1_500))
        ]
    );
    assert_eq!(
        om_samples("m 1 1520879607.789\n# EOF\n")[0].timestamp_ms,
        Some(1_520_879_607_789)
    );
    // The 0.0.4 format counts milliseconds and has no fractions.
    assert_eq!(samples("up 1 1000\n")[0].timestamp_ms, Some(1000));
    assert!(
        errors("go_goroutines 33 123.123\n")[0]
            .message
            .contains("bad timestamp")
    );
}

#[test]
fn timestamps_that_are_not_numbers_are_errors() {
    for bad in ["NaN", "+Inf", "1.2.3", "12x", "1e400"] {
        let errs = om_errors(&format!("m 1 {bad}\n# EOF\n"));
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert!(errs[0].message.contains("bad timestamp"), "{bad}: {errs:?}");
    }
}

#[test]
fn exemplars_do_not_cost_the_sample() {
    let body = "h_bucket{le=\"0.1\"} 8 # {trace_id=\"abc\"} 0.05 123.5\n\
                h_bucket{le=\"1\"} 9 1.25 # {trace_id=\"def\"} 0.5\n\
                c_total 3 # {trace_id=\"a b # c\"} 1.0\n# EOF\n";
    let all = om_samples(body);
    let got: Vec<_> = all.iter().map(|s| (s.value, s.timestamp_ms)).collect();
    assert_eq!(got, [(8.0, None), (9.0, Some(1_250)), (3.0, None)]);
    assert_eq!(all[0].label("le").as_deref(), Some("0.1"));
}

#[test]
fn unknown_escapes_in_label_values_are_kept_in_openmetrics_and_refused_in_004() {
    let body = "m{path=\"C:\\temp\",q=\"\\\"x\\\"\"} 1\n# EOF\n";
    let all = om_samples(body);
    assert_eq!(all[0].label("path").as_deref(), Some("C:\\temp"));
    assert_eq!(all[0].label("q").as_deref(), Some("\"x\""));
    let errs = errors("m{path=\"C:\\temp\"} 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("invalid escape"), "{errs:?}");
}

#[test]
fn escaped_quotes_in_help_are_resolved_in_openmetrics_only() {
    let help = |all: Vec<Entry<'_>>| match &all[0] {
        Entry::Help { text, .. } => text.to_string(),
        other => panic!("{other:?}"),
    };
    let body = "# HELP m Some \\\"quoted\\\" text\\n more \\\\ here\n";
    let om_body = format!("{body}# EOF\n");
    let om: Vec<_> = om_results(&om_body)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(help(om), "Some \"quoted\" text\n more \\ here");
    assert_eq!(
        help(entries(body)),
        "Some \\\"quoted\\\" text\n more \\ here"
    );
}

#[test]
fn eof_ends_the_body() {
    let body = "a 1\n# EOF\n";
    let results = om_results(body);
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(om_errors("a 1\r\n# EOF\r\n").is_empty());
    assert!(om_errors("a 1\n# EOF").is_empty());
    assert!(om_errors("# EOF\n").is_empty());
}

#[test]
fn text_after_eof_is_one_error_and_is_not_read() {
    let results = om_results("a 1\n# EOF\nb 2\nthis would be an error\n");
    assert_eq!(results.len(), 2, "{results:?}");
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.message.contains("after # EOF"), "{err}");
}

#[test]
fn eof_must_be_exact() {
    // Lookalikes are comments, so the body still lacks its end: nothing ends early unseen.
    for lookalike in ["#EOF", "#  EOF", "# EOF x", "# EOFX", "# eof", " # EOF"] {
        let body = format!("a 1\n{lookalike}\nb 2\n");
        let results = om_results(&body);
        let names: Vec<_> = results
            .iter()
            .filter_map(|r| match r {
                Ok(Entry::Sample(s)) => Some(s.name),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["a", "b"], "{lookalike:?}: {results:?}");
        let errs: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errs.len(), 1, "{lookalike:?}: {results:?}");
        assert!(errs[0].message.contains("without # EOF"), "{errs:?}");
    }
}

#[test]
fn a_body_without_eof_is_incomplete() {
    let results = om_results("# TYPE a gauge\na 1\n");
    assert_eq!(results.len(), 3);
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.message.contains("incomplete"), "{err}");
    assert_eq!(om_errors("").len(), 1);
}

#[test]
fn eof_is_a_plain_comment_in_004() {
    let names: Vec<_> = samples("a 1\n# EOF\nb 2\n")
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(errors("a 1\n").is_empty());
}

#[test]
fn numbers_beyond_f64_and_signed_nan_are_errors() {
    let errs = om_errors("a 1e400\nb -NaN\nc nan\nd -infinity\n# EOF\n");
    let lines: Vec<_> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2], "{errs:?}");
    let all: Vec<_> = om_results("c nan\nd -infinity\n# EOF\n")
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(matches!(&all[0], Entry::Sample(s) if s.value.is_nan()));
    assert!(matches!(&all[1], Entry::Sample(s) if s.value == f64::NEG_INFINITY));
}

#[test]
fn unit_lines_are_exposed() {
    let all = entries("# TYPE req_seconds counter\n# UNIT req_seconds seconds\n");
    assert_eq!(
        all[1],
        Entry::Unit {
            metric: "req_seconds",
            unit: "seconds"
        }
    );
}

#[test]
fn created_series_and_gauge_histograms_parse_as_samples() {
    let body = "# TYPE q gaugehistogram\nq_bucket{le=\"+Inf\"} 3\nq_gsum 4.5\n\
                # TYPE c counter\nc_total 17\nc_created 1.6e+09\n# EOF\n";
    let all: Vec<_> = om_results(body).into_iter().map(Result::unwrap).collect();
    assert!(all.contains(&Entry::Type {
        metric: "q",
        kind: MetricType::GaugeHistogram
    }));
    let names: Vec<_> = om_samples(body).iter().map(|s| s.name).collect();
    assert_eq!(names, ["q_bucket", "q_gsum", "c_total", "c_created"]);
}

#[test]
fn the_format_follows_the_content_type() {
    let body = "m{a=\"x\\ty\"} 1 2.5\n# EOF\n";
    let om =
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8");
    let parsed: Vec<_> = Parser::with_format(body, om).collect();
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    let Ok(Entry::Sample(s)) = &parsed[0] else {
        panic!("{parsed:?}")
    };
    assert_eq!(
        (s.timestamp_ms, s.label("a")),
        (Some(2_500), Some(Cow::Borrowed("x\\ty")))
    );
    let text = Format::from_content_type("text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(text, Format::Prometheus);
    assert!(Parser::with_format(body, text).next().unwrap().is_err());
}

#[test]
fn the_accept_header_names_both_formats_with_weights() {
    let parts: Vec<_> = ACCEPT.split(',').collect();
    assert_eq!(parts.len(), 3, "{ACCEPT}");
    assert!(parts[0].starts_with("application/openmetrics-text;version=1.0.0;q=0."));
    assert!(parts[1].starts_with("text/plain;version=0.0.4;q=0."));
    assert!(parts[2].starts_with("*/*;q=0."));
    assert!(!ACCEPT.contains(' '));
}

#[test]
fn a_last_line_cut_before_its_line_feed_is_an_error_not_a_shorter_value() {
    // What a body cut after `m 12` of `m 12345\n` looks like when nothing else tells.
    for cut in [
        "a 1\nm 12",
        "a 1\nm{x=\"y\"} 12 13950",
        "a 1\nh 8 # {trace_id=\"abc\"} 0.5",
    ] {
        let errs = om_errors(cut);
        assert!(
            errs[0].line == 2 && errs[0].message.contains("cut short"),
            "{cut:?}: {errs:?}"
        );
        assert_eq!(om_samples_before_errors(cut), ["a"], "{cut:?}");
    }
    // The 0.0.4 format reads a last line without its line feed, as Prometheus does.
    assert_eq!(samples("a 1\nm 12")[1].value, 12.0);
}

fn om_samples_before_errors(body: &str) -> Vec<&str> {
    om_results(body)
        .into_iter()
        .filter_map(|r| match r {
            Ok(Entry::Sample(s)) => Some(s.name),
            _ => None,
        })
        .collect()
}
