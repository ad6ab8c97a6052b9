//! Several targets, and targets that fail: down, erroring, not Prometheus, too slow, too big.

mod common;

use common::{TIMEOUT, closed_port, collect, collect_error, connector, ctx, url};
use dbmon_connector_api::{Connector, NodeStatus, Status};
use dbmon_connector_prometheus::Options;
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::{Duration, Instant};

/// Options that scrape the cluster's `endpoints:`.
fn from_endpoints() -> Options {
    Options::default()
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_targets_degrade_and_are_named() {
    let server = HttpServer::start().await;
    server.set("/good", Reply::text("queries_total{db=\"a\"} 7\n"));
    server.set("/broken", Reply::text("boom").with_status(500));
    let good = server.url("/good");
    let broken = server.url("/broken");
    let refused = format!("http://127.0.0.1:{}/metrics", closed_port());
    let targets = [good.clone(), broken.clone(), refused.clone()];
    let report = collect(&connector(from_endpoints(), &targets)).await;

    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(report.reasons().count(), 2, "{report:?}");
    let reason = |url: &str| {
        let found = report.reasons_with(url);
        assert_eq!(found.len(), 1, "{url}: {report:?}");
        found[0].to_lowercase()
    };
    let broken_reason = reason(&broken);
    assert!(
        broken_reason.contains("http 500") && broken_reason.contains("boom"),
        "{broken_reason}"
    );
    let refused_reason = reason(&refused);
    assert!(refused_reason.contains("refused"), "{refused_reason}");

    // The good target's samples, labelled with where they came from.
    let queries = report.series_of(None, "queries_total", &[]);
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert_eq!(queries[0].label("instance"), Some(good.as_str()));
    assert_eq!(queries[0].label("db"), Some("a"));
    assert_eq!(queries[0].value(), 7.0);

    assert_eq!(report.one_value(None, "up", &[]), 0.0);
    assert_eq!(report.one_value(None, "targets", &[]), 3.0);
    assert_eq!(report.one_value(None, "targets_up", &[]), 1.0);
    assert_eq!(report.one_value(None, "samples", &[]), 1.0);

    let ids: Vec<&str> = report.nodes().map(|(_, id, _)| id).collect();
    assert_eq!(ids, targets);
    assert_eq!(report.status_of(report.node_by_id(&good)), NodeStatus::Live);
    assert_eq!(report.node_value_of(&good, "up"), Some(1.0));
    assert_eq!(report.node_value_of(&good, "samples"), Some(1.0));
    for bad in [&broken, &refused] {
        assert_eq!(
            report.status_of(report.node_by_id(bad)),
            NodeStatus::Unavailable
        );
        assert_eq!(report.node_value_of(bad, "up"), Some(0.0));
        assert_eq!(report.node_value_of(bad, "samples"), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_label_of_the_target_is_kept_as_exported_instance() {
    let server = HttpServer::start().await;
    server.set(
        "/a",
        Reply::text("node_load1{instance=\"db-1:9100\",job=\"node\"} 0.5\n"),
    );
    server.set("/b", Reply::text("node_load1{job=\"node\"} 0.25\n"));
    let (a, b) = (server.url("/a"), server.url("/b"));
    let report = collect(&connector(from_endpoints(), &[a.clone(), b.clone()])).await;

    let federated: Vec<_> = report
        .series()
        .filter(|s| s.node().is_none() && s.label("job") == Some("node"))
        .collect();
    assert_eq!(federated.len(), 2, "{federated:?}");
    let from_a = federated[0];
    let keys: Vec<&str> = from_a.labels().map(|(k, _)| k).collect();
    assert_eq!(keys, ["exported_instance", "job", "instance"], "{from_a:?}");
    assert_eq!(from_a.label("exported_instance"), Some("db-1:9100"));
    assert_eq!(from_a.label("instance"), Some(a.as_str()));
    assert_eq!(federated[1].label("instance"), Some(b.as_str()));
    assert_eq!(federated[1].label("exported_instance"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn url_option_wins_over_endpoints() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("a 1\n"));
    let other = format!("http://127.0.0.1:{}/metrics", closed_port());
    let report = collect(&connector(url(&server.url("/metrics")), &[other])).await;
    assert_eq!(report.one_value(None, "targets", &[]), 1.0);
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.series_of(None, "a", &[])[0].label("instance"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_targets_down_is_an_error_naming_each() {
    let first = format!("http://127.0.0.1:{}/metrics", closed_port());
    let error = collect_error(&connector(url(&first), &[])).await;
    assert!(error.starts_with(&format!("GET {first}: ")), "{error}");
    assert!(
        error.to_lowercase().contains("connection refused"),
        "{error}"
    );

    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("unavailable").with_status(503));
    let second = server.url("/metrics");
    let error = collect_error(&connector(
        from_endpoints(),
        &[first.clone(), second.clone()],
    ))
    .await;
    let (a, b) = error.split_once("; ").unwrap_or_else(|| panic!("{error}"));
    assert!(a.starts_with(&format!("GET {first}: ")), "{error}");
    assert_eq!(b, format!("GET {second}: HTTP 503: unavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_prometheus_text_is_an_error() {
    let html = "<!DOCTYPE html>\n<html>\n<head><title>Login</title></head>\n<body>\nPlease sign in\n</body>\n</html>\n";
    let json = "{\n  \"status\": \"success\",\n  \"data\": {\"up\": 1}\n}\n";
    let server = HttpServer::start().await;
    server.set("/html", Reply::text(html));
    server.set("/json", Reply::json(json));
    for path in ["/html", "/json"] {
        let target = server.url(path);
        let error = collect_error(&connector(url(&target), &[])).await;
        assert!(
            error.starts_with(&format!("GET {target}: not Prometheus text: line 1: ")),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_target_fails_before_the_deadline() {
    let server = HttpServer::start().await;
    server.set("/slow", Reply::text("a 1\n").with_delay(TIMEOUT * 3));
    let slow = server.url("/slow");
    let prometheus = connector(url(&slow), &[]);
    let ctx = ctx();
    let error = match prometheus.collect(&ctx).await {
        Ok(_) => panic!("a slow target gave a report"),
        Err(e) => e.to_string(),
    };
    let returned = Instant::now();
    assert!(
        error.starts_with(&format!("GET {slow}: no answer within ")),
        "{error}"
    );
    assert!(error.ends_with(" ms"), "{error}");
    // It waited until its deadline (which the SDK sets a little before the host gives up),
    // and not much longer.
    let late = returned.saturating_duration_since(ctx.deadline);
    assert!(late < Duration::from_millis(200), "returned {late:?} late");
    let early = ctx.deadline.saturating_duration_since(returned);
    assert!(early < TIMEOUT / 2, "gave up {early:?} early");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_target_costs_a_reason_not_the_report() {
    let server = HttpServer::start().await;
    server.set("/slow", Reply::text("a 1\n").with_delay(TIMEOUT * 3));
    server.set("/fast", Reply::text("b 2\n"));
    let (slow, fast) = (server.url("/slow"), server.url("/fast"));
    let prometheus = connector(from_endpoints(), &[slow.clone(), fast.clone()]);
    let ctx = ctx();
    let report = prometheus.collect(&ctx).await.expect("a report");
    // The report is ready at the deadline, inside the margin the SDK leaves to the host.
    let late = Instant::now().saturating_duration_since(ctx.deadline);
    assert!(
        late < Duration::from_millis(200),
        "ready {late:?} after the deadline"
    );
    assert_eq!(report.status(), Status::Degraded);
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with(&format!("target down: GET {slow}: no answer within ")),
        "{reasons:?}"
    );
    assert_eq!(
        report.one_value(None, "b", &[("instance", fast.as_str())]),
        2.0
    );
    assert_eq!(
        report.status_of(report.node_by_id(&slow)),
        NodeStatus::Unavailable
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_max_body_bytes_is_refused() {
    let server = HttpServer::start().await;
    let body = "padding_metric_with_a_long_name 1\n".repeat(10);
    server.set("/metrics", Reply::text(body));
    let options = Options {
        max_body_bytes: Some(100),
        ..url(&server.url("/metrics"))
    };
    let error = collect_error(&connector(options, &[])).await;
    assert_eq!(
        error,
        format!("GET {}: body larger than 100 bytes", server.url("/metrics"))
    );
    // The same body under the default limit is fine.
    let report = collect(&connector(url(&server.url("/metrics")), &[])).await;
    assert_eq!(report.one_value(None, "samples", &[]), 10.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_collection_scrapes_again() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("requests 1\n"));
    let prometheus = connector(url(&server.url("/metrics")), &[]);
    let first = collect(&prometheus).await;
    server.set("/metrics", Reply::text("requests 2\n"));
    let started = Instant::now();
    let second = collect(&prometheus).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(first.one_value(None, "requests", &[]), 1.0);
    assert_eq!(second.one_value(None, "requests", &[]), 2.0);
    assert_eq!(server.hits("/metrics"), 2);
}
