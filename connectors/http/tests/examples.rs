//! Every README example and example.yaml, run against a loopback server serving the API's
//! documented answer: the docs cannot drift from the code.

mod common;

use common::{apis, closed_url, collect, connector, dir, example_env, readme_config};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_connector_http::{DEFAULT_MAX_BODY_BYTES, Http, Options};
use dbmon_test_support::{
    ReportExt,
    docs::{assert_complete_entry, build_entry, entry_config, keys},
};
use serde_json::Value;

/// The fields of a struct of options, from serde's unknown-field error.
fn fields<T: serde::de::DeserializeOwned + std::fmt::Debug>(required: &str) -> Vec<String> {
    let text = serde_json::from_str::<T>(&format!(r#"{{{required}"?": 0}}"#))
        .unwrap_err()
        .to_string();
    let names: Vec<String> = text
        .split('`')
        .skip(3)
        .step_by(2)
        .map(String::from)
        .collect();
    assert!(!names.is_empty(), "{text}");
    names
}

#[test]
fn example_yaml_is_a_complete_host_config() {
    let cluster = dir().example_cluster("http");
    assert_complete_entry::<Http>(&cluster, "example.yaml's cluster");
}

#[test]
fn readme_configuration_spells_out_every_option() {
    example_env();
    let cluster = dir().readme_cluster("## Configuration", "http");
    assert_complete_entry::<Http>(&cluster, "the README's cluster");
    let options = &cluster["options"];
    assert_eq!(
        options["max_body_bytes"].as_u64(),
        Some(DEFAULT_MAX_BODY_BYTES as u64)
    );
    let request = &options["requests"][0];
    assert_eq!(
        keys(request),
        fields::<dbmon_connector_http::RequestOptions>(r#""path": "/", "#)
    );
    let node_status = keys(&request["node_status"]);
    assert!(
        node_status.starts_with(&["path", "live", "draining"]),
        "{node_status:?}"
    );
    // Each option the README names under node_status is a list the rule has.
    let lists = fields::<dbmon_connector_http::NodeStatusOptions>(r#""path": "$", "#);
    for list in [
        "live",
        "draining",
        "initializing",
        "decommissioning",
        "decommissioned",
        "unavailable",
        "dead",
    ] {
        assert!(lists.contains(&list.to_string()), "{lists:?}");
    }
    let defaults: Options = serde_json::from_str(r#"{"requests": []}"#).unwrap();
    assert_eq!(defaults.max_body_bytes, None);
}

#[tokio::test]
async fn elasticsearch_cluster_health() {
    let es = apis::elasticsearch().await;
    let down = closed_url();
    let config = readme_config(
        "### Elasticsearch: /_cluster/health",
        &[es.url(""), down.clone()],
    );
    let report = collect(&connector(config)).await;
    let served: Value = serde_json::from_str(apis::ES_HEALTH).unwrap();
    let expect = |name: &str, value: f64| {
        assert_eq!(
            report.exact_value(None, name, &[]),
            value,
            "{name}: {report:#?}"
        );
    };
    expect("nodes", served["number_of_nodes"].as_f64().unwrap());
    expect(
        "data_nodes",
        served["number_of_data_nodes"].as_f64().unwrap(),
    );
    expect(
        "shards_active_percent",
        served["active_shards_percent_as_number"].as_f64().unwrap(),
    );
    expect(
        "shards_unassigned",
        served["unassigned_shards"].as_f64().unwrap(),
    );
    expect(
        "pending_tasks",
        served["number_of_pending_tasks"].as_f64().unwrap(),
    );
    assert_eq!(served["status"], "yellow");
    expect("green", 0.0);
    expect("status_known", 1.0);
    let unit = report
        .series()
        .find(|s| s.name() == "shards_active_percent")
        .and_then(|s| s.unit().map(String::from));
    assert_eq!(unit.as_deref(), Some("percent"));
    // One node answered, one is down: DEGRADED, the down one dead with the connection error.
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let live = report.node_by_id(&es.url(""));
    assert_eq!(report.status_of(live), NodeStatus::Live);
    let dead = report.node_by_id(&down);
    assert_eq!(report.status_of(dead), NodeStatus::Dead);
    assert!(
        report.has_reason(&[&format!("node {down}: GET /_cluster/health:"), "onnect"]),
        "{report:#?}"
    );
    let rtt = report.one_value(
        Some(&es.url("")),
        "request_ms",
        &[("request", "/_cluster/health")],
    );
    assert!(rtt > 0.0 && rtt < 4500.0, "{rtt}");
    assert_eq!(
        report.one_value(
            Some(&es.url("")),
            "status_code",
            &[("request", "/_cluster/health")]
        ),
        200.0
    );
    assert_eq!(es.hits("/_cluster/health"), 1);
}

#[tokio::test]
async fn elasticsearch_green_on_every_node() {
    let es1 = apis::elasticsearch().await;
    let es2 = apis::elasticsearch().await;
    let green = apis::ES_HEALTH.replace("\"yellow\"", "\"green\"");
    for es in [&es1, &es2] {
        es.set(
            "/_cluster/health",
            dbmon_test_support::Reply::json(green.clone()),
        );
    }
    let config = readme_config(
        "### Elasticsearch: /_cluster/health",
        &[es1.url(""), es2.url("")],
    );
    let report = collect(&connector(config)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.exact_value(None, "green", &[]), 1.0);
    // scope: cluster: one series, though both nodes answered and were asked.
    assert_eq!(report.series_of(None, "nodes", &[]).len(), 1);
    assert_eq!(
        (es1.hits("/_cluster/health"), es2.hits("/_cluster/health")),
        (1, 1)
    );
    // A health that timed out waiting (408, the health in the body) fails that node's request.
    es2.set(
        "/_cluster/health",
        dbmon_test_support::Reply::json(apis::ES_HEALTH).with_status(408),
    );
    let config = readme_config(
        "### Elasticsearch: /_cluster/health",
        &[es1.url(""), es2.url("")],
    );
    let report = collect(&connector(config)).await;
    let reason = format!(
        "node {}: GET /_cluster/health: HTTP 408: {{ \"cluster_name\" : \"testcluster\",",
        es2.url("")
    );
    assert!(report.has_reason(&[&reason]), "{report:#?}");
    assert_eq!(report.exact_value(None, "green", &[]), 1.0, "es1's figures");
}

#[tokio::test]
async fn consul_critical_checks() {
    let consul = apis::consul().await;
    let config = readme_config("### Consul: /v1/health/state/critical", &[consul.url("")]);
    let report = collect(&connector(config)).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let served: Vec<Value> = serde_json::from_str(apis::CONSUL_CRITICAL).unwrap();
    assert_eq!(
        report.exact_value(None, "checks_critical", &[]),
        served.len() as f64
    );
    for check in &served {
        let labels = [
            ("node", check["Node"].as_str().unwrap()),
            ("check", check["CheckID"].as_str().unwrap()),
            ("service", check["ServiceName"].as_str().unwrap()),
        ];
        assert_eq!(
            report.exact_value(None, "check_critical", &labels),
            1.0,
            "{labels:?}"
        );
    }
    // The token from ${env:CONSUL_TOKEN} was sent, and appears nowhere in the report.
    let request = &consul.requests()[0];
    assert_eq!(request.headers["x-consul-token"], "consul-token-2");
    assert!(!format!("{report:?}").contains("consul-token-2"));
    // No critical check: an empty array, a count of 0 and no per-check series.
    consul.set(
        "/v1/health/state/critical",
        dbmon_test_support::Reply::json("[]"),
    );
    let config = readme_config("### Consul: /v1/health/state/critical", &[consul.url("")]);
    let report = collect(&connector(config)).await;
    assert_eq!(report.exact_value(None, "checks_critical", &[]), 0.0);
    assert!(report.series_of(None, "check_critical", &[]).is_empty());
}

#[tokio::test]
async fn kubernetes_healthz_and_readyz() {
    let api1 = apis::kube_apiserver().await;
    let api2 = apis::kube_apiserver().await;
    let heading = "### Kubernetes API server: /healthz and /readyz";
    let http = connector(readme_config(heading, &[api1.url(""), api2.url("")]));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    for api in [&api1, &api2] {
        let node = Some(api.url(""));
        let node = node.as_deref();
        assert_eq!(report.exact_value(node, "healthz_ok", &[]), 1.0);
        assert_eq!(report.exact_value(node, "readyz_checks_failed", &[]), 0.0);
        assert_eq!(report.exact_value(node, "readyz_etcd_ok", &[]), 1.0);
        assert_eq!(
            report.one_value(node, "status_code", &[("request", "readyz")]),
            200.0
        );
        let mut asked: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
        asked.sort();
        assert_eq!(asked, ["/healthz", "/readyz?verbose"]);
        for request in api.requests() {
            assert_eq!(request.headers["authorization"], "Bearer kube-token-3");
        }
    }
    // etcd goes down behind the second server: readyz answers 500 with the failing checks.
    api2.set(
        "/readyz",
        apis::plain(apis::KUBE_READYZ_ETCD_DOWN).with_status(500),
    );
    let report = collect(&http).await;
    let failed = apis::KUBE_READYZ_ETCD_DOWN
        .lines()
        .filter(|l| l.starts_with("[-]"))
        .count() as f64;
    let node2 = api2.url("");
    assert_eq!(
        report.exact_value(Some(&node2), "readyz_checks_failed", &[]),
        failed
    );
    assert_eq!(report.exact_value(Some(&node2), "readyz_etcd_ok", &[]), 0.0);
    assert_eq!(
        report.exact_value(Some(&api1.url("")), "readyz_etcd_ok", &[]),
        1.0
    );
    assert_eq!(
        report.status(),
        Status::Healthy,
        "500 is expected here: {report:#?}"
    );
    // Without 500 in expect_status the same answer fails the request: the node is dead.
    api2.set("/healthz", apis::plain("etcd failed").with_status(500));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.status_of(report.node_by_id(&node2)),
        NodeStatus::Dead
    );
    assert!(
        report.has_reason(&[&format!(
            "node {node2}: GET /healthz: HTTP 500: etcd failed"
        )]),
        "{report:#?}"
    );
}

#[tokio::test]
async fn vault_sys_health_with_its_status_codes() {
    let active = apis::vault(200, apis::VAULT_ACTIVE).await;
    let standby = apis::vault(429, apis::VAULT_STANDBY).await;
    let sealed = apis::vault(503, apis::VAULT_SEALED).await;
    let heading = "### Vault: /v1/sys/health";
    let nodes = [active.url(""), standby.url(""), sealed.url("")];
    let http = connector(readme_config(heading, &nodes));
    let report = collect(&http).await;
    let served: Value = serde_json::from_str(apis::VAULT_ACTIVE).unwrap();
    let value = |node: &str, name: &str| report.exact_value(Some(node), name, &[]);
    assert_eq!(value(&nodes[0], "active"), 1.0);
    assert_eq!(value(&nodes[1], "active"), 0.0);
    assert_eq!(value(&nodes[1], "standby"), 1.0);
    assert_eq!(value(&nodes[2], "sealed"), 1.0);
    assert_eq!(value(&nodes[0], "sealed"), 0.0);
    assert_eq!(value(&nodes[0], "initialized"), 1.0);
    assert_eq!(
        value(&nodes[0], "server_time_utc"),
        served["server_time_utc"].as_f64().unwrap()
    );
    let info = [
        ("version", served["version"].as_str().unwrap()),
        ("cluster", served["cluster_name"].as_str().unwrap()),
    ];
    assert_eq!(
        report.exact_value(Some(&nodes[0]), "build_info", &info),
        1.0
    );
    // The sealed node knows no cluster name: its build_info has the version label only.
    assert_eq!(
        report.exact_value(Some(&nodes[2]), "build_info", &[("version", "1.15.2")]),
        1.0
    );
    for (node, code) in nodes.iter().zip([200.0, 429.0, 503.0]) {
        assert_eq!(
            report.one_value(Some(node), "status_code", &[("request", "health")]),
            code
        );
    }
    let status = |node: &str| report.status_of(report.node_by_id(node));
    assert_eq!(status(&nodes[0]), NodeStatus::Live);
    assert_eq!(status(&nodes[1]), NodeStatus::Live);
    assert_eq!(status(&nodes[2]), NodeStatus::Dead);
    assert_eq!(report.status(), Status::Degraded);
    let reason = format!(
        "node {} is dead (node_status: $.sealed is 'true')",
        nodes[2]
    );
    assert_eq!(report.reasons().collect::<Vec<_>>(), [reason.as_str()]);
    // An uninitialised node answers 501, which the example does not expect: the request fails.
    sealed.set(
        "/v1/sys/health",
        dbmon_test_support::Reply::json(apis::VAULT_UNINITIALIZED).with_status(501),
    );
    let report = collect(&http).await;
    assert!(
        report.has_reason(&[
            &format!("node {}: GET health: HTTP 501: {{", nodes[2]),
            "\"initialized\": false"
        ]),
        "{report:#?}"
    );
    assert_eq!(
        report.status_of(report.node_by_id(&nodes[2])),
        NodeStatus::Dead
    );
}

#[test]
fn every_example_builds_as_written() {
    example_env();
    for heading in [
        "### Elasticsearch: /_cluster/health",
        "### Consul: /v1/health/state/critical",
        "### Kubernetes API server: /healthz and /readyz",
        "### Vault: /v1/sys/health",
    ] {
        let cluster = dir().readme_cluster(heading, "http");
        assert!(cluster["rules"].is_sequence(), "{heading} shows host rules");
        let config = entry_config::<Http>(&cluster).unwrap();
        assert!(!config.endpoints.is_empty(), "{heading}");
        if let Err(e) = build_entry::<Http>(&cluster) {
            panic!("{heading}: {e}");
        }
    }
}

#[tokio::test]
async fn readme_lists_the_connectors_own_metrics_with_kind_and_unit() {
    let es = apis::elasticsearch().await;
    let config = readme_config("### Elasticsearch: /_cluster/health", &[es.url("")]);
    let report = collect(&connector(config)).await;
    let metrics = dir().readme_metrics();
    assert_eq!(
        dbmon_test_support::docs::listed_metrics(&metrics.cluster),
        Vec::<String>::new(),
        "the cluster's metrics are the extract rules'"
    );
    assert_eq!(
        dbmon_test_support::docs::listed_metrics(&metrics.node),
        dbmon_connector_http::RESERVED_NAMES.map(String::from)
    );
    assert_eq!(
        report.metric_names(true),
        dbmon_connector_http::RESERVED_NAMES
    );
    for series in report.series().filter(|s| s.node().is_some()) {
        let item = format!("- `{}` (", series.name());
        let line = metrics.node.lines().find(|l| l.starts_with(&item)).unwrap();
        let kind = series.kind().as_str();
        let unit = series.unit().unwrap_or("no unit");
        assert!(
            line.contains(&format!("({kind}, {unit})")),
            "{line} vs {kind}, {unit}"
        );
    }
}
