//! What is not a working etcd: a closed port, an HTTP server that is not etcd, garbage, another
//! protocol, a server that never answers. Each is a clear error, never a panic or a hang.

mod common;

use common::{TIMEOUT, collect, connector, etcd::free_port, fake::Fake};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The error of a collection that must fail, and that it failed before the deadline.
async fn error_of(endpoints: &[String]) -> String {
    let (error, took) =
        dbmon_test_support::collect::collect_error(&connector(endpoints), TIMEOUT).await;
    assert!(took < TIMEOUT + Duration::from_secs(1), "{took:?}");
    error
}

#[tokio::test]
async fn a_closed_port() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let error = error_of(std::slice::from_ref(&url)).await;
    assert!(
        error.starts_with(&format!(
            "no member answers: POST {url}/v3/maintenance/status: "
        )),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
}

#[tokio::test]
async fn an_http_server_that_is_not_etcd() {
    let server = HttpServer::start().await;
    let error = error_of(&[server.url("")]).await;
    assert_eq!(
        error,
        format!(
            "no member answers: POST {}: HTTP 404: not found",
            server.url("/v3/maintenance/status")
        )
    );
}

#[tokio::test]
async fn garbage_and_foreign_json() {
    let server = HttpServer::start().await;
    server.set(
        "/v3/maintenance/status",
        Reply::json("{\"header\": {garbage"),
    );
    let error = error_of(&[server.url("")]).await;
    assert!(
        error.contains("/v3/maintenance/status: not etcd's JSON ("),
        "{error}"
    );
    assert!(error.contains("{\\\"header\\\": {garbage"), "{error}");

    server.set(
        "/v3/maintenance/status",
        Reply::json(r#"{"hello":"world"}"#),
    );
    let error = error_of(&[server.url("")]).await;
    assert!(
        error.ends_with("/v3/maintenance/status: not an etcd status (no header.member_id)"),
        "{error}"
    );
}

#[tokio::test]
async fn another_protocol_on_the_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"-ERR unknown command 'POST'\r\n").await;
        }
    });
    let error = error_of(std::slice::from_ref(&url)).await;
    server.abort();
    assert!(
        error.starts_with(&format!(
            "no member answers: POST {url}/v3/maintenance/status: "
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_at_the_deadline() {
    let server = HttpServer::start().await;
    let forever = Duration::from_secs(600);
    for path in [
        "/v3/maintenance/status",
        "/v3/cluster/member/list",
        "/health",
        "/metrics",
    ] {
        server.set(path, Reply::json("{}").with_delay(forever));
    }
    let error = error_of(&[server.url("")]).await;
    assert!(
        error.contains("/v3/maintenance/status: no answer within "),
        "{error}"
    );
}

#[tokio::test]
async fn one_dead_endpoint_beside_a_live_member() {
    let fake = Fake::start(1).await;
    let closed = format!("http://127.0.0.1:{}", free_port());
    let report = collect(&connector(&[fake.endpoints()[0].clone(), closed.clone()])).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reason = report.reasons_with(&format!("endpoint {closed} not answering: POST {closed}"));
    assert_eq!(reason.len(), 1, "{report:?}");
    assert_eq!(report.expect_value("members"), 1.0);
    assert_eq!(report.status_of(report.node_by_id("f1")), NodeStatus::Live);
}
