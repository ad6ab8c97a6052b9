//! A real three-node JetStream cluster: the figures the connector reports against what the
//! servers and a NATS client say, a consumer lagging past the threshold, a node killed, and
//! the meta group losing its majority.

mod common;

use common::{
    collect, collect_until, connector, connector_with,
    nats::{Cluster, get_json, orders},
};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_nats::Options;
use dbmon_test_support::ReportExt;
use std::time::Duration;

/// Messages published to the stream; the consumer fetches none, so all are pending.
const PUBLISHED: u64 = 25;

#[tokio::test(flavor = "multi_thread")]
async fn a_three_node_cluster_as_the_servers_see_it() {
    let mut cluster = Cluster::three("n").await;
    let (_client, mut consumer) = orders(&cluster, PUBLISHED).await;
    let info = consumer.info().await.expect("consumer info").clone();
    assert_eq!(info.num_pending, PUBLISHED);

    let nats = connector(&cluster.endpoints());
    // The consumer's state reaches every replica's report within a moment.
    let report = collect_until(&nats, Duration::from_secs(10), |r| {
        r.status() == Status::Healthy
            && r.value_with("consumer_num_pending", &[("consumer", "audit")])
                == Some(PUBLISHED as f64)
    })
    .await;
    assert_eq!(report.expect_value("nodes"), 3.0);
    assert_eq!(report.expect_value("nodes_up"), 3.0);
    assert_eq!(report.expect_value("has_meta_leader"), 1.0);
    assert_eq!(report.expect_value("streams"), 1.0);
    assert_eq!(report.expect_value("consumers"), 1.0);
    let stream = [("account", "$G"), ("stream", "ORDERS")];
    assert_eq!(
        report.exact_value(None, "stream_messages", &stream),
        PUBLISHED as f64
    );
    assert_eq!(report.exact_value(None, "stream_consumers", &stream), 1.0);
    let audit = [
        ("account", "$G"),
        ("stream", "ORDERS"),
        ("consumer", "audit"),
    ];
    assert_eq!(
        report.exact_value(None, "consumer_num_pending", &audit),
        info.num_pending as f64
    );
    assert_eq!(
        report.exact_value(None, "consumer_num_ack_pending", &audit),
        0.0
    );
    assert_eq!(
        report.exact_value(None, "consumer_num_redelivered", &audit),
        0.0
    );

    // Each node against its own monitoring endpoint, asked directly.
    let mut connections = 0.0;
    let mut leaders = 0.0;
    for server in &cluster.servers {
        let id = server.name.as_str();
        let node = report.node_by_id(id);
        assert_eq!(report.status_of(node), NodeStatus::Live);
        assert_eq!(report.address_of(node), Some(server.monitor_url.as_str()));
        let varz = get_json(&server.monitor_url, "/varz").await.unwrap();
        let connz = get_json(&server.monitor_url, "/connz").await.unwrap();
        let jsz = get_json(
            &server.monitor_url,
            "/jsz?accounts=true&streams=true&consumers=true",
        )
        .await
        .unwrap();
        let value = |name: &str| {
            report
                .node_value_of(id, name)
                .unwrap_or_else(|| panic!("{id} has no {name}: {report:#?}"))
        };
        assert_eq!(value("up"), 1.0);
        assert_eq!(value("healthy"), 1.0);
        assert_eq!(value("routes"), 2.0);
        assert_eq!(value("route_peers"), 2.0);
        assert_eq!(value("routes_configured"), 2.0);
        assert_eq!(
            value("connections"),
            connz["num_connections"].as_f64().unwrap()
        );
        connections += value("connections");
        assert_eq!(value("jetstream_enabled"), 1.0);
        assert_eq!(value("jetstream_streams"), jsz["streams"].as_f64().unwrap());
        assert_eq!(
            value("jetstream_consumers"),
            jsz["consumers"].as_f64().unwrap()
        );
        assert_eq!(value("jetstream_messages"), PUBLISHED as f64);
        let held = &jsz["account_details"][0]["stream_detail"][0]["consumer_detail"][0];
        assert_eq!(held["num_pending"].as_u64(), Some(PUBLISHED), "{jsz:#}");
        assert!(value("memory_bytes") > 1e6, "{}", value("memory_bytes"));
        assert!(value("in_msgs") <= varz["in_msgs"].as_f64().unwrap());
        assert!(value("uptime_seconds") >= 0.0);
        leaders += value("is_meta_leader");
        let labels: Vec<(&str, &str)> = report.node_labels(node).collect();
        assert!(
            labels.contains(&("version", varz["version"].as_str().unwrap())),
            "{labels:?}"
        );
        assert!(labels.contains(&("server_id", varz["server_id"].as_str().unwrap())));
    }
    assert_eq!(leaders, 1.0, "one meta leader");
    // The test's client is on n1.
    assert_eq!(report.node_value_of("n1", "connections"), Some(1.0));
    assert_eq!(report.expect_value("connections"), connections);

    // Past the threshold, the lag is a reason naming the consumer and the count.
    let strict = connector_with(
        Options {
            consumer_pending_degraded: PUBLISHED - 1,
            ..Options::default()
        },
        &cluster.endpoints(),
    );
    let lagging = collect(&strict).await;
    assert_eq!(lagging.status(), Status::Degraded, "{lagging:#?}");
    assert_eq!(
        lagging.reasons().collect::<Vec<_>>(),
        [format!(
            "consumer ORDERS/audit has {PUBLISHED} messages pending (num_pending), over {} (consumer_pending_degraded)",
            PUBLISHED - 1
        )]
    );

    // A node killed: named in a reason, dead; the others still report, and miss a route to it.
    let n3_url = cluster.server("n3").monitor_url.clone();
    cluster.server("n3").kill();
    let report = collect_until(&nats, Duration::from_secs(20), |r| {
        r.status() != Status::Healthy && r.value_of_routes_settled()
    })
    .await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let down = report.reasons_with(&format!(
        "node n3 ({n3_url}) not answering: GET {n3_url}/varz: "
    ));
    assert_eq!(down.len(), 1, "{report:#?}");
    assert!(down[0].contains("Connection refused"), "{down:?}");
    assert_eq!(report.status_of(report.node_by_id("n3")), NodeStatus::Dead);
    assert_eq!(report.node_value_of("n3", "up"), Some(0.0));
    assert_eq!(report.expect_value("nodes_up"), 2.0);
    for id in ["n1", "n2"] {
        assert_eq!(report.status_of(report.node_by_id(id)), NodeStatus::Live);
        assert_eq!(report.node_value_of(id, "up"), Some(1.0));
        assert_eq!(report.node_value_of(id, "route_peers"), Some(1.0));
        assert!(
            report.has_reason(&[
                &format!("node {id} ("),
                "has routes to 1 server, 2 expected",
                "none to n3"
            ]),
            "{report:#?}"
        );
    }
    // Two of three replicas keep the stream and the consumer going.
    assert_eq!(report.expect_value("has_meta_leader"), 1.0);
    assert_eq!(
        report.exact_value(None, "consumer_num_pending", &audit),
        PUBLISHED as f64
    );

    // A second node killed: the stream's group at once, then the meta group (its leader steps
    // down once it misses its followers) have lost their majority.
    cluster.server("n2").kill();
    let leaderless =
        "stream ORDERS has no leader: it takes no messages until its replicas elect one";
    let report = collect_until(&nats, Duration::from_secs(40), |r| {
        r.has_reason(&[leaderless])
    })
    .await;
    assert_eq!(report.status(), Status::Unhealthy);
    let report = collect_until(&nats, Duration::from_secs(40), |r| {
        r.value("has_meta_leader") == Some(0.0)
    })
    .await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert!(
        report.has_reason(&[
            "JetStream has no meta leader: none of the 1 answering JetStream servers knows one"
        ]),
        "{report:#?}"
    );
    assert_eq!(report.expect_value("nodes_up"), 1.0);
}

/// Test-side: whether the surviving nodes' routes to the killed one are gone (a route lingers
/// until the server notices the broken connection).
trait Settled {
    fn value_of_routes_settled(&self) -> bool;
}

impl Settled for dbmon_connector_api::Report {
    fn value_of_routes_settled(&self) -> bool {
        ["n1", "n2"]
            .iter()
            .all(|id| self.node_value_of(id, "route_peers") == Some(1.0))
    }
}
