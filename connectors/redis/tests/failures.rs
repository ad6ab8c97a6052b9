//! Wrong credentials, a closed port, other protocols on the port, a node down: clear errors
//! or reasons, never a panic, never a wait past the deadline.

mod common;

use common::{Server, TIMEOUT, closed_port, collect, collect_error, config, connector, with_auth};
use dbmon_connector_api::{Connector, NodeStatus, Status};
use dbmon_test_support::ReportExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "s3cret-Pa55word";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_right_wrong_and_missing() {
    let server = Server::start(&["--requirepass", PASSWORD]);
    let endpoints = [server.address()];

    let right = connector(with_auth(config(&endpoints), None, PASSWORD));
    assert_eq!(collect(&right).await.status(), Status::Healthy);

    let wrong = connector(with_auth(config(&endpoints), None, "not-the-password"));
    let (error, took) = collect_error(&wrong, TIMEOUT).await;
    assert!(error.contains(&server.address()), "{error}");
    assert!(error.contains("authentication failed"), "{error}");
    assert!(!error.contains("not-the-password"), "{error}");
    assert!(took < TIMEOUT, "{took:?}");

    let missing = connector(config(&endpoints));
    let (error, _) = collect_error(&missing, TIMEOUT).await;
    assert!(error.contains("requires a password"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_with_its_password() {
    let server = Server::start(&["--requirepass", PASSWORD]);
    // The README's least-privilege user: the connector needs these four commands only.
    let setuser = [
        "ACL",
        "SETUSER",
        "monitor",
        "on",
        ">mon-pw",
        "-@all",
        "+info",
        "+cluster|info",
        "+cluster|nodes",
        "+slowlog|get",
    ];
    server.run(Some(PASSWORD), &setuser);
    let endpoints = [server.address()];

    let user = connector(with_auth(config(&endpoints), Some("monitor"), "mon-pw"));
    assert_eq!(collect(&user).await.status(), Status::Healthy);
    let ctx = common::ctx_with(TIMEOUT);
    let table = user.run_command("slowlog", &[], &ctx).await.unwrap();
    assert!(table.contains("from 1 node"), "{table}");

    let blind = [
        "ACL",
        "SETUSER",
        "blind",
        "on",
        ">blind-pw",
        "-@all",
        "+ping",
    ];
    server.run(Some(PASSWORD), &blind);
    let user = connector(with_auth(config(&endpoints), Some("blind"), "blind-pw"));
    let (error, _) = collect_error(&user, TIMEOUT).await;
    assert!(error.contains("lacks a permission"), "{error}");

    let wrong = connector(with_auth(config(&endpoints), Some("monitor"), PASSWORD));
    let (error, _) = collect_error(&wrong, TIMEOUT).await;
    assert!(error.contains("authentication failed"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_fails_at_once() {
    let address = format!("127.0.0.1:{}", closed_port());
    let (error, took) = collect_error(&connector(config(&[&address])), TIMEOUT).await;
    assert!(
        error.starts_with(&format!("{address}: cannot connect")),
        "{error}"
    );
    assert!(error.contains("refused"), "{error}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_that_answers_is_not_redis() {
    // Like most HTTP servers, it answers a request it cannot parse with 400 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let reply =
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(reply).await;
        }
    });
    let (error, took) = collect_error(&connector(config(&[&address])), TIMEOUT).await;
    server.abort();
    assert!(error.starts_with(&address), "{error}");
    assert!(error.contains("not the Redis protocol"), "{error}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_the_deadline_and_no_more() {
    // It waits for an HTTP request head, which a Redis command never completes.
    let server = dbmon_test_support::HttpServer::start().await;
    let address = server.addr.to_string();
    let timeout = Duration::from_millis(800);
    let (error, took) = collect_error(&connector(config(&[&address])), timeout).await;
    assert!(error.starts_with(&address), "{error}");
    assert!(error.contains("no answer within"), "{error}");
    assert!(took >= timeout - Duration::from_millis(50), "{took:?}");
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_on_the_port_is_a_clear_error() {
    let (error, took) = collect_error(&connector(config(&["127.0.0.1:5432"])), TIMEOUT).await;
    assert!(error.starts_with("127.0.0.1:5432: "), "{error}");
    assert!(
        error.contains("another kind of server on this port?"),
        "{error}"
    );
    assert!(took < TIMEOUT, "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listed_server_down_degrades_and_keeps_the_others_figures() {
    let server = Server::start(&[]);
    let down = format!("127.0.0.1:{}", closed_port());
    let report = collect(&connector(config(&[server.address(), down.clone()]))).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert!(
        report.has_reason(&[&format!("node {down} not answering: cannot connect")]),
        "{report:?}"
    );
    assert_eq!(report.one_value(None, "up", &[]), 0.0);
    assert_eq!(report.one_value(None, "nodes_up", &[]), 1.0);
    assert_eq!(
        report.status_of(report.node_by_id(&down)),
        NodeStatus::Unavailable
    );
    assert_eq!(report.node_value_of(&down, "up"), Some(0.0));
    assert_eq!(
        report.status_of(report.node_by_id(&server.address())),
        NodeStatus::Live
    );
    assert!(report.one_value(None, "memory_used_bytes", &[]) > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_closed_by_the_server_is_replaced_at_no_cost() {
    let server = Server::start(&[]);
    let redis = connector(config(&[server.address()]));
    assert_eq!(collect(&redis).await.status(), Status::Healthy);
    // What an idle timeout or a restart does to the connection the connector keeps.
    let killed = server.run(None, &["CLIENT", "KILL", "TYPE", "normal"]);
    assert_eq!(
        killed, "1",
        "the connector's connection was not the one open"
    );
    let report = collect(&redis).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_for_a_server_that_has_none() {
    let server = Server::start(&[]);
    let redis = connector(with_auth(config(&[server.address()]), None, "unneeded"));
    let (error, took) = collect_error(&redis, TIMEOUT).await;
    assert!(error.starts_with(&server.address()), "{error}");
    assert!(
        error.contains("AUTH") || error.contains("authentication"),
        "{error}"
    );
    assert!(!error.contains("unneeded"), "{error}");
    assert!(took < TIMEOUT);
}
