//! The health rules a three-node cluster does not show on its own, each made real on a
//! nats-server of its own: slow consumers, JetStream not running, configured routes that
//! never connect.

mod common;

use common::{
    collect, connector, connector_with,
    nats::{Cluster, Setup, free_port, get_json},
};
use dbmon_connector_api::Status;
use dbmon_connector_nats::{JetStream, Options};
use dbmon_test_support::ReportExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn single(config: String, jetstream: bool) -> Setup {
    Setup {
        servers: 1,
        jetstream,
        config,
        https: None,
    }
}

/// A subscriber that never reads past the server's first PONG: the server buffers what it is
/// sent, up to `max_pending`, then drops it as a slow consumer.
async fn stalled_subscriber(client_url: &str, subject: &str) -> tokio::net::TcpStream {
    let address = client_url.trim_start_matches("nats://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("INFO "), "{line}");
    let hello = format!("CONNECT {{\"verbose\":false}}\r\nSUB {subject} 1\r\nPING\r\n");
    reader.get_mut().write_all(hello.as_bytes()).await.unwrap();
    line.clear();
    reader.read_line(&mut line).await.unwrap();
    assert_eq!(line, "PONG\r\n");
    reader.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn new_slow_consumers_degrade_the_cluster_once() {
    let server = Cluster::start(
        "s",
        single("max_pending: 65536\nmax_payload: 65536".into(), false),
    )
    .await;
    let url = &server.servers[0].monitor_url;
    let nats = connector(&server.endpoints());
    let report = collect(&nats).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.node_value_of("s1", "slow_consumers"), Some(0.0));

    let _stalled = stalled_subscriber(&server.servers[0].client_url, "big").await;
    let publisher = async_nats::connect(&server.servers[0].client_url)
        .await
        .unwrap();
    let payload = vec![b'x'; 60 * 1024];
    let mut slow = 0;
    for _ in 0..50 {
        for _ in 0..100 {
            publisher
                .publish("big", payload.clone().into())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
        slow = get_json(url, "/varz").await.unwrap()["slow_consumers"]
            .as_u64()
            .unwrap();
        if slow > 0 {
            break;
        }
    }
    assert!(slow > 0, "no slow consumer:\n{}", server.logs());

    let report = collect(&nats).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node s1 ({url}): slow consumers went from 0 to {slow} since the last collection \
             (clients that did not read fast enough were disconnected)"
        )]
    );
    assert_eq!(
        report.node_value_of("s1", "slow_consumers"),
        Some(slow as f64)
    );
    assert_eq!(report.expect_value("slow_consumers"), slow as f64);
    // Nothing new since: healthy again, the counter stays.
    let report = collect(&nats).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("slow_consumers"), slow as f64);
}

#[tokio::test(flavor = "multi_thread")]
async fn jetstream_required_where_it_does_not_run() {
    let server = Cluster::start("p", single(String::new(), false)).await;
    let url = &server.servers[0].monitor_url;
    let required = Options {
        jetstream: JetStream::Required,
        ..Options::default()
    };
    let report = collect(&connector_with(required, &server.endpoints())).await;
    assert_eq!(report.status(), Status::Unhealthy, "{report:#?}");
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node p1 ({url}): JetStream is not running (/jsz says disabled), though jetstream: required"
        )]
    );
    assert_eq!(report.node_value_of("p1", "jetstream_enabled"), Some(0.0));
    assert_eq!(report.value("streams"), None);

    // auto: a server without JetStream is no finding; off: /jsz is not even read.
    let report = collect(&connector(&server.endpoints())).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.node_value_of("p1", "jetstream_enabled"), Some(0.0));
    let off = Options {
        jetstream: JetStream::Off,
        ..Options::default()
    };
    let report = collect(&connector_with(off, &server.endpoints())).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.node_value_of("p1", "jetstream_enabled"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_routes_that_never_connect() {
    let nobody = free_port();
    let config = format!(
        "cluster {{ name: lonely\n listen: \"127.0.0.1:{}\"\n routes: [\"nats://127.0.0.1:{nobody}\"] }}",
        free_port()
    );
    let server = Cluster::start("r", single(config, false)).await;
    let url = &server.servers[0].monitor_url;
    let report = collect(&connector(&server.endpoints())).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node r1 ({url}) has no route, though its configuration lists 1 (cluster routes: 127.0.0.1:{nobody})"
        )]
    );
    assert_eq!(report.node_value_of("r1", "routes"), Some(0.0));
    assert_eq!(report.node_value_of("r1", "routes_configured"), Some(1.0));
}
