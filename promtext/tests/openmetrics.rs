//! OpenMetrics text: UNIT, EOF, `_created` series and exemplars.

mod common;

use common::{entries, errors, samples};
use dbmon_promtext::{Entry, MetricType};

#[test]
fn eof_ends_iteration() {
    let body = "a 1\n# EOF\nb 2\nthis would be an error\n";
    let names: Vec<_> = samples(body).iter().map(|s| s.name).collect();
    assert_eq!(names, ["a"]);
    assert!(errors(body).is_empty());
}

#[test]
fn eof_with_crlf_or_without_newline_ends_iteration() {
    assert_eq!(samples("a 1\r\n# EOF\r\nb 2\r\n").len(), 1);
    assert_eq!(samples("a 1\n# EOF").len(), 1);
}

#[test]
fn eof_lookalikes_are_plain_comments() {
    assert_eq!(samples("# EOFX\n# EOF trailing\na 1\n").len(), 1);
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
                # TYPE c counter\nc_total 17\nc_created 1.6e+09\n";
    let all = entries(body);
    assert!(all.contains(&Entry::Type {
        metric: "q",
        kind: MetricType::GaugeHistogram
    }));
    let names: Vec<_> = samples(body).iter().map(|s| s.name).collect();
    assert_eq!(names, ["q_bucket", "q_gsum", "c_total", "c_created"]);
}

#[test]
fn exemplars_are_ignored() {
    let body = "h_bucket{le=\"0.1\"} 8 # {trace_id=\"abc\"} 0.05 123\n\
                h_bucket{le=\"1\"} 9 1000 # {trace_id=\"def\"} 0.5\n";
    let all = samples(body);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].value, all[0].timestamp_ms), (8.0, None));
    assert_eq!((all[1].value, all[1].timestamp_ms), (9.0, Some(1000)));
}
