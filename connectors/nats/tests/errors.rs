//! What is not a working NATS server: a closed port, an HTTP server that is something else,
//! garbage; and a monitoring endpoint behind a proxy that asks for basic authentication.
//! Each is a clear error or reason, never a panic or a hang, and never shows the password.

mod common;

use common::{
    TIMEOUT, collect, connector, connector_with,
    nats::{Cluster, Setup, free_port},
    try_collect,
};
use dbmon_connector_api::{ClusterConfig, Connector, NodeStatus, Status};
use dbmon_connector_nats::{Nats, Options};
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::Duration;

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
        error.starts_with(&format!("no server answers: GET {url}/varz: ")),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
}

#[tokio::test]
async fn an_http_server_that_is_not_nats() {
    let server = HttpServer::start().await;
    let error = error_of(&[server.url("")]).await;
    assert_eq!(
        error,
        format!(
            "no server answers: GET {}: HTTP 404: not found",
            server.url("/varz")
        )
    );
}

#[tokio::test]
async fn garbage_and_foreign_json() {
    let server = HttpServer::start().await;
    server.set("/varz", Reply::json("{\"server_id\": garbage"));
    let error = error_of(&[server.url("")]).await;
    assert!(
        error.starts_with(&format!(
            "no server answers: GET {}: not nats-server's JSON (",
            server.url("/varz")
        )),
        "{error}"
    );
    server.set("/varz", Reply::json(r#"{"status": "ok"}"#));
    let error = error_of(&[server.url("")]).await;
    assert_eq!(
        error,
        format!(
            "no server answers: GET {}: not a nats-server answer (no server_id)",
            server.url("/varz")
        )
    );
}

/// A proxy in front of a real server's monitoring endpoint, serving what the server answered,
/// to requests with the right basic authentication only.
async fn proxy_of(server: &Cluster, authorization: &'static str) -> HttpServer {
    let base = &server.servers[0].monitor_url;
    let client = dbmon_scrape::client(None).unwrap();
    let mut bodies = Vec::new();
    for path in [
        "/varz",
        "/routez",
        "/connz?sort=pending&limit=1",
        "/healthz",
        "/jsz?accounts=true&streams=true&consumers=true",
    ] {
        let url = format!("{base}{path}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let max = dbmon_scrape::DEFAULT_MAX_BODY_BYTES;
        let body = dbmon_scrape::get(&client, &url, deadline, max)
            .await
            .unwrap()
            .body;
        bodies.push((path.split('?').next().unwrap().to_string(), body));
    }
    let proxy = HttpServer::start().await;
    proxy.set_handler(move |request| {
        if request.headers.get("authorization").map(String::as_str) != Some(authorization) {
            return Some(Reply::text("401 Unauthorized").with_status(401));
        }
        let path = request.path.split('?').next().unwrap_or("");
        let (_, body) = bodies.iter().find(|(p, _)| p == path)?;
        Some(Reply::json(body.clone()))
    });
    proxy
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_authentication_for_a_proxy_and_no_password_shown() {
    let setup = Setup {
        servers: 1,
        jetstream: true,
        ..Setup::default()
    };
    let server = Cluster::start("a", setup).await;
    // base64("monitor:s3cret")
    let proxy = proxy_of(&server, "Basic bW9uaXRvcjpzM2NyZXQ=").await;
    let endpoints = [proxy.url("")];
    let with = |password: &str| {
        let config = ClusterConfig::new("nats", Options::default())
            .with_endpoints(endpoints.iter().cloned())
            .with_auth(Some("monitor"), Some(password));
        <Nats as Connector>::new(config).unwrap()
    };
    let report = collect(&with("s3cret")).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.status_of(report.node_by_id("a1")), NodeStatus::Live);
    assert_eq!(report.node_value_of("a1", "jetstream_enabled"), Some(1.0));

    match try_collect(&with("wrong-password")).await {
        Ok(report) => panic!("collected: {report:#?}"),
        Err(e) => {
            assert_eq!(
                e,
                format!(
                    "no server answers: GET {}: HTTP 401: 401 Unauthorized",
                    proxy.url("/varz")
                )
            );
            assert!(!e.contains("wrong-password"));
        }
    }
    // Without auth: refused the same way.
    let error = try_collect(&connector_with(Options::default(), &endpoints))
        .await
        .unwrap_err();
    assert!(error.contains("HTTP 401"), "{error}");
}
