//! End to end: the real `dbmon serve` loads the connector library and collects from a loopback
//! Elasticsearch (one node answering, one down); `dbmon --json reports` shows the figures,
//! nodes and reasons; the token of a header never reaches the log. A bad configuration is
//! refused by `dbmon serve --check` at the file:line:column of the offending field.

mod common;

use common::{apis, closed_url, dir};
use dbmon_test_support::{Host, TestCa, built_binary, built_library};
use serde_json::Value;
use std::{process::Command, time::Duration};

const TOKEN: &str = "e2e-token-5f1c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_reports_an_api_cluster() {
    // SAFETY: the only variable this test binary sets, before the host (a child) starts.
    unsafe { std::env::set_var("DBMON_HTTP_E2E_TOKEN", TOKEN) };
    let es = apis::elasticsearch().await;
    let down = closed_url();
    let config = format!(
        "clusters:
  - id: search
    connector: http
    endpoints: ['{}', '{down}']
    interval: 1s
    timeout: 1s
    options:
      requests:
        - path: /_cluster/health
          headers: {{ Authorization: 'Bearer ${{env:DBMON_HTTP_E2E_TOKEN}}' }}
          scope: cluster
          extract:
            - {{ name: nodes, path: $.number_of_nodes }}
            - {{ name: shards_active_percent, path: $.active_shards_percent_as_number, unit: percent }}
            - {{ name: green, path: $.status, equals: green }}
            - {{ name: relocating, path: $.relocating_shards_typo }}
    rules:
      - {{ when: \"green == 0\", status: degraded, reason: \"cluster health is not green\", for: 2 }}
      - {{ when: \"nodes < 3\", status: unhealthy, reason: \"only {{nodes}} nodes\" }}
",
        es.url("")
    );
    let host = Host::start(&config, &[built_library("dbmon_connector_http")]);
    let report = host
        .report_when_async("search", Duration::from_secs(30), |r| {
            r["sequence"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(report["connector"], "http");
    // The connector's verdict (a node down: DEGRADED), raised by the README's host rules: one
    // node of the 3 wanted, and not green for 2 reports.
    assert_eq!(report["status"], "unhealthy", "{report:#}");
    let served: Value = serde_json::from_str(apis::ES_HEALTH).unwrap();
    let metrics = &report["metrics"];
    assert_eq!(
        metrics["nodes"].as_f64(),
        served["number_of_nodes"].as_f64()
    );
    assert_eq!(
        metrics["shards_active_percent"].as_f64(),
        served["active_shards_percent_as_number"].as_f64()
    );
    assert_eq!(metrics["green"], 0.0);
    assert_eq!(report["units"]["shards_active_percent"], "percent");
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{report:#}");
    assert_eq!(nodes[0]["id"], es.url(""));
    assert_eq!(nodes[0]["status"], "live");
    assert_eq!(nodes[0]["address"], es.addr.to_string());
    let rtt = &nodes[0]["metrics"]["request_ms{request=\"/_cluster/health\"}"];
    assert!(rtt.as_f64().is_some_and(|ms| ms > 0.0), "{report:#}");
    assert_eq!(nodes[1]["id"], down);
    assert_eq!(nodes[1]["status"], "dead");
    let reasons: Vec<&str> = report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with(&format!("node {down}: GET /_cluster/health: "))),
        "{reasons:?}"
    );
    let served_nodes = served["number_of_nodes"].as_u64().unwrap();
    for rule_reason in [
        format!("only {served_nodes} nodes"),
        "cluster health is not green".to_string(),
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(&rule_reason)),
            "{rule_reason}: {reasons:?}"
        );
    }
    // The token went to the server, and nowhere else.
    let sent = es.requests();
    assert!(
        sent.iter()
            .all(|r| r.headers["authorization"] == format!("Bearer {TOKEN}"))
    );
    assert!(!host.log().contains(TOKEN), "the token is in the log");
    // A series whose path matches nothing is absent, and a debug line says why.
    assert!(metrics.get("relocating").is_none(), "{report:#}");
    let log = host.log();
    let line = log
        .lines()
        .find(|l| l.contains("series left out"))
        .unwrap_or_else(|| panic!("no debug line for the missing series:\n{log}"));
    assert!(
        line.contains("path $.relocating_shards_typo: selects nothing"),
        "{line}"
    );
    assert!(!report.to_string().contains(TOKEN));
}

/// `dbmon serve --check` on `config` with the connector installed: its stderr, folder
/// removed from paths.
fn check_refuses(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    let library = built_library("dbmon_connector_http");
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, config).unwrap();
    let output = Command::new(built_binary("dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(&file)
        .env_remove("DBMON_HTTP_UNSET_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{config}\n{stderr}");
    stderr.replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn a_bad_configuration_is_refused_at_the_offending_field() {
    let config = "\
clusters:
  - id: path
    connector: http
    endpoints: [http://127.0.0.1:9200]
    options:
      requests:
        - path: /_cluster/health
          extract:
            - { name: nodes, path: $.number_of_nodes }
            - { name: green, path: '$.status[', equals: green }
  - id: method
    connector: http
    endpoints: [http://127.0.0.1:9200]
    options:
      requests:
        - { path: /, method: FETCH }
  - id: twice
    connector: http
    endpoints: [http://127.0.0.1:9200]
    options:
      requests:
        - { path: /a, extract: [{ name: up, path: $.a }] }
        - path: /b
          extract:
            - name: up
              path: $.b
  - id: token
    connector: http
    endpoints: [http://127.0.0.1:9200]
    options:
      requests:
        - path: /
          headers:
            Authorization: 'Bearer ${env:DBMON_HTTP_UNSET_TOKEN}'
  - id: typo
    connector: http
    endpoints: [http://127.0.0.1:9200]
    options:
      requests:
        - { path: /, extract: [{ name: up, pth: $.up }] }
";
    let err = check_refuses(config);
    for expected in [
        "bad.yaml:10:36: connector 'http' refused cluster 'path': \
         options.requests[0].extract[1].path: '$.status[' is not a valid JSONPath: at character 9 \
         ($.status>[<), parser error",
        "bad.yaml:16:30: connector 'http' refused cluster 'method': \
         options.requests[0].method: unknown method 'FETCH'; use GET, POST, PUT or HEAD",
        "bad.yaml:25:21: connector 'http' refused cluster 'twice': \
         options.requests[1].extract[0].name: metric 'up' is already extracted at \
         options.requests[0].extract[0] with the same labels",
        "bad.yaml:34:28: connector 'http' refused cluster 'token': \
         options.requests[0].headers.Authorization: environment variable \
         DBMON_HTTP_UNSET_TOKEN is not set",
        "bad.yaml:40:49: connector 'http' refused cluster 'typo': \
         options.requests[0].extract[0].pth: unknown field `pth`",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in:\n{err}");
    }
}

/// The README's example headings, each followed by a complete cluster entry.
const EXAMPLES: [&str; 4] = [
    "### Elasticsearch: /_cluster/health",
    "### Consul: /v1/health/state/critical",
    "### Kubernetes API server: /healthz and /readyz",
    "### Vault: /v1/sys/health",
];

#[test]
fn the_host_accepts_every_readme_example_with_its_rules() {
    let work = tempfile::tempdir().unwrap();
    // The examples' CA files, made here: the connector reads them at startup.
    let ca = TestCa::new("Example CA").write(work.path());
    let mut clusters = Vec::new();
    for heading in EXAMPLES {
        let mut cluster = dir().readme_cluster(heading, "http");
        assert!(cluster["rules"].is_sequence(), "{heading} has host rules");
        if let Some(tls) = cluster.get_mut("tls") {
            tls["ca"] = serde_yaml_ng::Value::String(ca.display().to_string());
        }
        clusters.push(cluster);
    }
    let plugins = work.path().join("plugins.d");
    std::fs::create_dir(&plugins).unwrap();
    let library = built_library("dbmon_connector_http");
    std::fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();
    let file = work.path().join("examples.yaml");
    let config = serde_yaml_ng::to_string(&serde_json::json!({ "clusters": clusters })).unwrap();
    std::fs::write(&file, &config).unwrap();
    let output = Command::new(built_binary("dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(&file)
        .env("CONSUL_TOKEN", "consul-token")
        .env("KUBE_TOKEN", "kube-token")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}\nfor:\n{config}");
}
