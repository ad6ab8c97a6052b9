//! What is not a healthy CockroachDB node gets a clear error or reason, never a panic, never a
//! wait past the deadline: closed ports, garbage, another exporter, HTTP errors, a slow node,
//! another protocol on the port, an oversized body.

mod common;

use common::*;
use dbmon_connector_api::{Connector, Status};
use dbmon_connector_cockroachdb::Options;
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// A node whose `/_status/vars` answers `reply`; its health is fine.
async fn serving(reply: Reply) -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/_status/vars", reply);
    server.set("/health", Reply::json("{}"));
    server
}

/// What a Prometheus exporter that is not CockroachDB serves (written for this test, in the
/// shape of a Windows exporter's page).
const OTHER_EXPORTER: &str = "# HELP wmi_os_processes OperatingSystem.NumberOfProcesses\n\
# TYPE wmi_os_processes gauge\nwmi_os_processes 124\n\
# HELP wmi_os_timezone OperatingSystem.LocalDateTime\n# TYPE wmi_os_timezone gauge\n\
wmi_os_timezone{timezone=\"MSK\"} 1\nwmi_os_visible_memory_bytes 4.294496256e+09\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_closed_is_an_error() {
    let ports = [closed_port(), closed_port()];
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let error = collect_error(&plain(&endpoints)).await;
    assert_eq!(
        error,
        format!(
            "no endpoint answered: http://127.0.0.1:{}: not answering: connection refused; \
             http://127.0.0.1:{}: not answering: connection refused",
            ports[0], ports[1]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_exporter_is_not_taken_for_cockroachdb() {
    let server = serving(Reply::text(OTHER_EXPORTER)).await;
    let error = collect_error(&plain(&[server.url("")])).await;
    assert_eq!(
        error,
        format!(
            "no endpoint answered: {}: not a CockroachDB /_status/vars endpoint: no sys_uptime, \
             build_timestamp, liveness_* or ranges series",
            server.url("")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bodies_are_named() {
    let html = serving(Reply::text(
        "<!DOCTYPE html><html><body>Sign in</body></html>",
    ))
    .await;
    let error = collect_error(&plain(&[html.url("")])).await;
    assert!(
        error.ends_with(
            "not a CockroachDB /_status/vars endpoint: not Prometheus text (line 1: bad metric \
             name \"<!DOCTYPE\")"
        ),
        "{error}"
    );
    let mut binary = Reply::text("");
    binary.body = std::sync::Arc::new(vec![0xff, 0xfe, 0x00, 0x81, 0x10]);
    let binary = serving(binary).await;
    let error = collect_error(&plain(&[binary.url("")])).await;
    assert!(
        error.ends_with("/_status/vars: body is not UTF-8 text"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_node_among_good_ones_is_a_reason() {
    let cluster = FakeCluster::start(three(Generation::V22)).await;
    let other = serving(Reply::text(OTHER_EXPORTER)).await;
    let failing = serving(Reply::text("internal error\n").with_status(500)).await;
    let mut endpoints = cluster.endpoints();
    endpoints.push(other.url(""));
    endpoints.push(failing.url(""));
    let report = collect(&plain(&endpoints)).await;
    assert_eq!(report.status(), Status::Degraded);
    let other_address = other.addr.to_string();
    let failing_address = failing.addr.to_string();
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            format!(
                "node at {} ({other_address}): not a CockroachDB /_status/vars endpoint: no \
                 sys_uptime, build_timestamp, liveness_* or ranges series",
                other.url("")
            ),
            format!(
                "node at {} ({failing_address}): GET /_status/vars: HTTP 500: internal error",
                failing.url("")
            ),
        ]
    );
    assert_eq!(report.expect_value("ranges"), 3.0 * 2.0 * 20.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_costs_a_reason_not_the_report() {
    let cluster = FakeCluster::start(three(Generation::V19)).await;
    let slow = HttpServer::start().await;
    slow.set(
        "/_status/vars",
        Reply::text("sys_uptime 1\n").with_delay(Duration::from_secs(30)),
    );
    slow.set(
        "/health",
        Reply::json("{}").with_delay(Duration::from_secs(30)),
    );
    let mut endpoints = cluster.endpoints();
    endpoints.push(slow.url(""));
    let connector = plain(&endpoints);
    let start = Instant::now();
    let report = connector
        .collect(&ctx_for(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(report.status(), Status::Degraded);
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let reason = reasons[0];
    assert!(
        reason.starts_with(&format!("node at {} (", slow.url(""))),
        "{reason}"
    );
    assert!(
        reason.contains(") not answering: no answer within "),
        "{reason}"
    );
}

/// A TCP server that, per connection, reads what the client sends first when `listen_first`,
/// then writes `greeting` (an SSH banner, a Redis error) and closes.
async fn other_protocol(
    greeting: &'static [u8],
    listen_first: bool,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if listen_first {
                    let mut buffer = [0u8; 1024];
                    let _ = stream.read(&mut buffer).await;
                }
                let _ = stream.write_all(greeting).await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_on_the_port_is_an_error() {
    for (greeting, listen_first) in [
        (&b"SSH-2.0-OpenSSH_9.6\r\n"[..], false),
        (
            &b"-ERR unknown command 'GET', with args beginning with: '/_status/vars'\r\n"[..],
            true,
        ),
        // PostgreSQL's way: it reads the request and hangs up without a word.
        (&b""[..], true),
    ] {
        let (port, task) = other_protocol(greeting, listen_first).await;
        let error = collect_error(&plain(&[format!("http://127.0.0.1:{port}")])).await;
        task.abort();
        let expected = format!(
            "no endpoint answered: http://127.0.0.1:{port}: GET /_status/vars: the port does not \
             speak HTTP ("
        );
        assert!(error.starts_with(&expected), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused() {
    let cluster = FakeCluster::start(vec![Node::new(1, Generation::V22)]).await;
    let options = Options {
        max_body_bytes: Some(1024),
        ..Options::default()
    };
    let connector = <dbmon_connector_cockroachdb::CockroachDb as Connector>::new(config(
        &cluster.endpoints(),
        options,
    ))
    .unwrap();
    let error = collect_error(&connector).await;
    assert!(
        error.ends_with("/_status/vars: body larger than 1024 bytes"),
        "{error}"
    );
}
