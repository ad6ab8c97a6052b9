//! The two text formats: the connector asks for either, and reads a body by the rules of the
//! format its Content-Type names. Also a target that is not HTTP at all.

mod common;

use common::{collect, collect_error, connector, scraped, url};
use dbmon_connector_api::Status;
use dbmon_test_support::{HttpServer, Reply, ReportExt};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn openmetrics(body: &str) -> Reply {
    Reply {
        content_type: OPENMETRICS.into(),
        ..Reply::text(body)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_bodies_are_read_by_their_own_rules() {
    let body = "# TYPE go_goroutines gauge\n\
                # HELP go_goroutines Number of \\\"goroutines\\\".\n\
                go_goroutines 33 123.123\n\
                # TYPE rpc counter\n\
                rpc_total{path=\"C:\\temp\"} 7 1000 # {trace_id=\"4bf92f3577b34da6\"} 1.0 999.5\n\
                # EOF\n";
    let server = HttpServer::start().await;
    server.set("/metrics", openmetrics(body));
    let target = server.url("/metrics");
    let report = collect(&connector(url(&target), &[])).await;

    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.one_value(None, "go_goroutines", &[]), 33.0);
    // An unknown escape is text in OpenMetrics; the exemplar does not cost the sample.
    assert_eq!(
        report.one_value(None, "rpc_total", &[("path", "C:\\temp")]),
        7.0
    );
    assert_eq!(report.one_value(None, "samples", &[]), 2.0);

    // The request asked for both formats, preferring 0.0.4, with weights, as Prometheus does.
    let accept = server.requests()[0].headers.get("accept").cloned();
    assert_eq!(accept.as_deref(), Some(dbmon_promtext::ACCEPT));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_body_as_0_0_4_text_is_read_by_0_0_4_rules() {
    let server = HttpServer::start().await;
    server.set(
        "/metrics",
        Reply::text("go_goroutines 33 123.123\nthreads 1 1000\n"),
    );
    let target = server.url("/metrics");
    let report = collect(&connector(url(&target), &[])).await;
    // A fractional timestamp is no 0.0.4 timestamp: that line is bad, the other one is kept.
    assert_eq!(report.status(), Status::Degraded, "{report:?}");
    let names: Vec<&str> = scraped(&report).iter().map(|s| s.name()).collect();
    assert_eq!(names, ["threads"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openmetrics_body_without_eof_is_incomplete() {
    let server = HttpServer::start().await;
    server.set("/metrics", openmetrics("a 1\nb 2\n#EOF\nc 12"));
    let target = server.url("/metrics");
    let report = collect(&connector(url(&target), &[])).await;

    assert_eq!(report.status(), Status::Degraded, "{report:?}");
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with(&format!("{target}: 2 lines could not be parsed (line 4: ")),
        "{reasons:?}"
    );
    // `c 12` may be the start of `c 12345`: it is not reported.
    let names: Vec<&str> = scraped(&report).iter().map(|s| s.name()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_is_not_http_says_so() {
    // What PostgreSQL does with an HTTP request: it reads a length, and hangs up.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut start = [0u8; 4];
            let _ = std::io::Read::read_exact(&mut stream, &mut start);
        }
    });
    let target = format!("http://127.0.0.1:{port}/metrics");
    let error = collect_error(&connector(url(&target), &[])).await;
    assert!(
        error.starts_with(&format!(
            "GET {target}: the server did not answer with HTTP"
        )),
        "{error}"
    );
    assert!(error.contains("right port"), "{error}");
}

/// The machine's PostgreSQL, when it runs (one request; it only logs a bad startup packet).
#[tokio::test(flavor = "multi_thread")]
async fn a_prometheus_url_on_the_real_postgres_port_says_it_is_not_http() {
    let addr = "127.0.0.1:5432";
    let reachable = addr.parse().is_ok_and(|a| {
        std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1)).is_ok()
    });
    if !reachable {
        eprintln!("nothing listens on {addr}: skipped");
        return;
    }
    let target = format!("http://{addr}/metrics");
    let error = collect_error(&connector(url(&target), &[])).await;
    assert!(error.contains("did not answer with HTTP"), "{error}");
}
