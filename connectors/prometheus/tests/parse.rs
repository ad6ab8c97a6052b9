//! What one target's body becomes: values, unescaped labels, the filter, parse errors.

mod common;

use common::{collect, connector, scraped, url};
use dbmon_connector_api::{NodeStatus, Report, Status};
use dbmon_connector_prometheus::Options;
use dbmon_test_support::{HttpServer, Reply, ReportExt};

/// The exposition format's corner cases, from its own documentation and a few more. No final
/// newline.
const BODY: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# A plain comment, not HELP or TYPE.
# HELP msdos_file_access_time_seconds Escapes in \\ help \n text.
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
cache_ratio NaN
tiny 2.5E-3
floor -Inf
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_count 2693"#;

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_of_the_body_is_reported() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text(BODY));
    let target = server.url("/metrics");
    let report = collect(&connector(url(&target), &[])).await;

    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.reasons().count(), 0, "{report:?}");
    let names: Vec<&str> = scraped(&report).iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "http_requests_total",
            "http_requests_total",
            "msdos_file_access_time_seconds",
            "metric_without_timestamp_and_labels",
            "something_weird",
            "cache_ratio",
            "tiny",
            "floor",
            "rpc_duration_seconds",
            "rpc_duration_seconds_count",
        ]
    );
    let requests = |code| {
        report.one_value(
            None,
            "http_requests_total",
            &[("method", "post"), ("code", code)],
        )
    };
    assert_eq!(requests("200"), 1027.0);
    assert_eq!(requests("400"), 3.0);
    let msdos = report.one_value(
        None,
        "msdos_file_access_time_seconds",
        &[
            ("path", r"C:\DIR\FILE.TXT"),
            ("error", "Cannot find file:\n\"FILE.TXT\""),
        ],
    );
    assert_eq!(msdos, 1_458_255_915.0);
    assert_eq!(
        report.one_value(None, "metric_without_timestamp_and_labels", &[]),
        12.47
    );
    assert_eq!(
        report.one_value(None, "something_weird", &[]),
        f64::INFINITY
    );
    assert!(report.one_value(None, "cache_ratio", &[]).is_nan());
    assert_eq!(report.one_value(None, "tiny", &[]), 0.0025);
    assert_eq!(report.one_value(None, "floor", &[]), f64::NEG_INFINITY);
    assert_eq!(
        report.one_value(None, "rpc_duration_seconds", &[("quantile", "0.99")]),
        76656.0
    );
    assert_eq!(
        report.one_value(None, "rpc_duration_seconds_count", &[]),
        2693.0
    );
    // One target: samples keep exactly their own labels, no `instance`.
    for series in scraped(&report) {
        assert_eq!(series.label("instance"), None, "{series:?}");
        assert_eq!(series.unit(), None, "{series:?}");
    }

    assert_eq!(report.one_value(None, "up", &[]), 1.0);
    assert_eq!(report.one_value(None, "targets", &[]), 1.0);
    assert_eq!(report.one_value(None, "targets_up", &[]), 1.0);
    assert_eq!(report.one_value(None, "samples", &[]), 10.0);
    assert_eq!(report.one_value(None, "samples_dropped", &[]), 0.0);
    let duration = report.series_of(None, "scrape_duration_ms", &[])[0];
    assert!(
        duration.value() > 0.0 && duration.value() < 2000.0,
        "{duration:?}"
    );
    assert_eq!(duration.unit(), Some("ms"));

    assert_eq!(report.nodes().count(), 1);
    let node = report.node_by_id(&target);
    assert_eq!(report.status_of(node), NodeStatus::Live);
    assert_eq!(
        report.address_of(node),
        Some(server.addr.to_string().as_str())
    );
    assert_eq!(report.node_value_of(&target, "up"), Some(1.0));
    assert_eq!(report.node_value_of(&target, "samples"), Some(10.0));
    let node_duration = report.node_value_of(&target, "scrape_duration_ms").unwrap();
    assert!(node_duration > 0.0, "{node_duration}");
    assert_eq!(server.hits("/metrics"), 1);
}

/// A histogram, a counter family and two runtime gauges, with `http_requests_total` coming back
/// after other names so that the per-name decision cache is exercised.
const FAMILIES: &str = "\
http_requests_total{code=\"200\"} 10
http_requests_total{code=\"500\"} 1
http_request_duration_seconds_bucket{le=\"0.1\"} 4
http_request_duration_seconds_bucket{le=\"1\"} 9
http_request_duration_seconds_bucket{le=\"+Inf\"} 11
http_request_duration_seconds_sum 3.2
http_request_duration_seconds_count 11
process_cpu_seconds_total 12.5
go_goroutines 42
http_requests_total{code=\"404\"} 2
";

async fn filtered(include: &[&str], exclude: &[&str]) -> Report {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text(FAMILIES));
    let options = Options {
        include: include.iter().map(|p| p.to_string()).collect(),
        exclude: exclude.iter().map(|p| p.to_string()).collect(),
        ..url(&server.url("/metrics"))
    };
    collect(&connector(options, &[])).await
}

fn names(report: &Report) -> Vec<&str> {
    scraped(report).iter().map(|s| s.name()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn include_and_exclude_keep_only_matching_series() {
    let report = filtered(&["http_*"], &["*_bucket"]).await;
    assert_eq!(
        names(&report),
        [
            "http_requests_total",
            "http_requests_total",
            "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count",
            "http_requests_total",
        ]
    );
    assert_eq!(
        report.one_value(None, "http_requests_total", &[("code", "404")]),
        2.0
    );
    assert_eq!(report.one_value(None, "samples", &[]), 5.0);
    assert_eq!(report.one_value(None, "samples_dropped", &[]), 5.0);
    assert_eq!(report.status(), Status::Healthy);
}

#[tokio::test(flavor = "multi_thread")]
async fn exclude_alone_and_question_mark_wildcards() {
    let report = filtered(&[], &["go_*", "http_request?_total"]).await;
    assert_eq!(
        names(&report),
        [
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count",
            "process_cpu_seconds_total",
        ]
    );
    assert_eq!(report.one_value(None, "samples_dropped", &[]), 4.0);

    let report = filtered(&["process_*", "go_goroutines"], &[]).await;
    assert_eq!(
        names(&report),
        ["process_cpu_seconds_total", "go_goroutines"]
    );
    assert_eq!(report.one_value(None, "samples", &[]), 2.0);
    assert_eq!(report.one_value(None, "samples_dropped", &[]), 8.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unparsable_lines_degrade_with_their_count_and_the_first_error() {
    let server = HttpServer::start().await;
    let body = "good 1\nbad{le=\"0.1\" 2\nalso_good 3\nworse 1 2 3\n";
    server.set("/metrics", Reply::text(body));
    let target = server.url("/metrics");
    let report = collect(&connector(url(&target), &[])).await;

    assert_eq!(report.status(), Status::Degraded);
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let reason = reasons[0];
    assert!(
        reason.starts_with(&format!("{target}: 2 lines could not be parsed (line 2: ")),
        "{reason}"
    );
    assert_eq!(names(&report), ["good", "also_good"]);
    assert_eq!(report.one_value(None, "samples", &[]), 2.0);
    // The target answered: it is up, only its body is partly bad.
    assert_eq!(report.one_value(None, "up", &[]), 1.0);
    assert_eq!(
        report.status_of(report.node_by_id(&target)),
        NodeStatus::Live
    );

    server.set("/metrics", Reply::text("good 1\n9lives 2\n"));
    let report = collect(&connector(url(&target), &[])).await;
    let expected =
        format!("{target}: 1 line could not be parsed (line 2: bad metric name \"9lives\")");
    assert_eq!(report.reasons().collect::<Vec<_>>(), [expected]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cockroach_like_body_parses_cleanly() {
    let body = dbmon_promtext::synthetic::cockroach_like_vars(1);
    assert!(body.len() > 150_000, "{} bytes", body.len());
    // Counted without the parser: every non-blank line that is not a comment is a sample.
    let lines = body
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    let server = HttpServer::start().await;
    server.set("/_status/vars", Reply::text(body));
    let report = collect(&connector(url(&server.url("/_status/vars")), &[])).await;

    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    let samples = report.one_value(None, "samples", &[]);
    assert_eq!(samples, lines as f64);
    assert!((2_500.0..3_000.0).contains(&samples), "{samples}");
    assert_eq!(scraped(&report).len(), lines);
    assert_eq!(report.one_value(None, "samples_dropped", &[]), 0.0);
    let build = report.one_value(
        None,
        "build_timestamp",
        &[("tag", "v23.1.11"), ("go_version", "go1.19.10")],
    );
    assert_eq!(build, 1.681737728e9);
    assert!(
        scraped(&report)
            .iter()
            .any(|s| s.label("store") == Some("1"))
    );
}
