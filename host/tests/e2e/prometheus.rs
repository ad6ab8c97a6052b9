use crate::{cli, client, json_lines, lib, metric, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::{Host, HttpServer, Reply};
use std::time::Duration;

const BODY: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
# HELP rpc_duration_seconds A summary.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
something_weird{problem="division by zero"} +Inf -3982045
nan_gauge NaN
metric_without_timestamp_and_labels 12.47"#;

fn config(server: &HttpServer) -> String {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    format!(
        "
clusters:
  - id: prom
    connector: prometheus
    interval: 500ms
    timeout: 400ms
    options: {{url: '{url}'}}
  - id: only-http
    connector: prometheus
    interval: 500ms
    timeout: 400ms
    endpoints: ['{url}']
    options: {{include: ['http_*']}}
  - id: down
    connector: prometheus
    interval: 500ms
    timeout: 400ms
    options: {{url: 'http://{closed}/metrics'}}
",
        url = server.url("/metrics")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_samples_become_metrics_with_labels() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text(BODY));
    let host = Host::start(&config(&server), &[lib("prometheus")]);
    reports_when(&host, "prom", 1, Duration::from_secs(15)).await;

    let report = &json_lines(&cli(&host, &["--json", "reports", "prom", "--limit", "1"]).await)[0];
    assert_eq!(report["status"], "healthy", "{report}");
    let m = &report["metrics"];
    assert_eq!(m["up"], 1.0);
    assert_eq!(m["samples"], 8.0);
    assert!(m["scrape_duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        m[r#"http_requests_total{method="post",code="200"}"#],
        1027.0
    );
    assert_eq!(m[r#"http_requests_total{method="post",code="400"}"#], 3.0);
    assert_eq!(m[r#"rpc_duration_seconds_sum"#], 17560473.0);
    // JSON has no infinities or NaN: the CLI prints them as strings.
    assert_eq!(m[r#"something_weird{problem="division by zero"}"#], "inf");
    assert_eq!(m["nan_gauge"], "NaN");
    assert_eq!(report["nodes"][0]["metrics"]["up"], 1.0);

    // The families' `# TYPE` lines become metric kinds, end to end (keyed by name, as units
    // are); undeclared series have none.
    let kinds = &report["kinds"];
    assert_eq!(kinds["http_requests_total"], "counter", "{report}");
    assert_eq!(kinds["rpc_duration_seconds"], "summary", "{report}");
    assert_eq!(kinds["rpc_duration_seconds_sum"], "summary", "{report}");
    assert!(kinds.get("nan_gauge").is_none(), "{report}");
    let verbose = cli(&host, &["reports", "prom", "--limit", "1", "-v"]).await;
    let verbose = String::from_utf8_lossy(&verbose.stdout);
    assert!(
        verbose
            .lines()
            .any(|l| l.contains("http_requests_total") && l.contains("counter")),
        "{verbose}"
    );

    // Label values arrive unescaped on the wire.
    let mut grpc = client(&host).await;
    let request = proto::GetReportsRequest {
        cluster_id: "prom".into(),
        limit: 1,
        since: None,
    };
    let wire = grpc
        .get_reports(request)
        .await
        .unwrap()
        .into_inner()
        .reports
        .remove(0);
    let msdos = wire
        .metrics
        .iter()
        .find(|m| m.name == "msdos_file_access_time_seconds")
        .unwrap();
    let label = |k: &str| {
        msdos
            .labels
            .iter()
            .find(|l| l.key == k)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(label("path"), r"C:\DIR\FILE.TXT");
    assert_eq!(label("error"), "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(msdos.value, 1.458255915e9);
    let requests = wire
        .metrics
        .iter()
        .find(|m| m.name == "http_requests_total")
        .unwrap();
    assert_eq!(requests.kind, proto::MetricKind::Counter as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_dead_targets_do_not_disturb_the_others() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text(BODY));
    let host = Host::start(&config(&server), &[lib("prometheus")]);
    let filtered = reports_when(&host, "only-http", 2, Duration::from_secs(15)).await;
    let latest = &filtered[0];
    let names: Vec<&str> = latest.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.starts_with("http_")).count() == 2,
        "{names:?}"
    );
    assert!(!names.contains(&"nan_gauge"), "{names:?}");
    assert_eq!(metric(latest, "samples_dropped"), Some(6.0));

    let down = reports_when(&host, "down", 2, Duration::from_secs(15)).await;
    assert_eq!(down[0].status, proto::Status::Unreachable as i32);
    let error = down[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("/metrics") && error.to_lowercase().contains("refused"),
        "{error}"
    );
    assert!(down[0].consecutive_failures >= 2);
    // The healthy cluster kept its schedule meanwhile.
    let prom = reports_when(&host, "prom", 2, Duration::from_secs(5)).await;
    assert_eq!(prom[0].status, proto::Status::Healthy as i32);
    assert!(server.hits("/metrics") >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reports_honours_limit_and_order() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text(BODY));
    let host = Host::start(&config(&server), &[lib("prometheus")]);
    let all = reports_when(&host, "prom", 4, Duration::from_secs(15)).await;
    let seqs: Vec<u64> = all.iter().map(|r| r.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let mut grpc = client(&host).await;
    let request = proto::GetReportsRequest {
        cluster_id: "prom".into(),
        limit: 2,
        since: None,
    };
    let two = grpc
        .get_reports(request)
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(two.len(), 2);
    assert!(two[0].sequence > two[1].sequence);
    // Older reports come back from the packed history with every value intact.
    let oldest = all.last().unwrap();
    assert_eq!(metric(oldest, r#"http_requests_total"#), Some(1027.0));
    let since = all[1].collected_at;
    let request = proto::GetReportsRequest {
        cluster_id: "prom".into(),
        limit: 0,
        since,
    };
    let newer = grpc
        .get_reports(request)
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(!newer.is_empty() && newer.iter().all(|r| r.sequence > all[1].sequence));
}
