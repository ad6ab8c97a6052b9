//! Failures and the less common paths, against loopback servers: what the node's status and the
//! report's reasons say.

mod common;

use common::{closed_url, collect, config, connector, try_collect};
use dbmon_connector_api::{NodeStatus, Status, testkit::SilentServer};
use dbmon_test_support::{HttpServer, Reply, ReportExt};
use std::time::{Duration, Instant};

async fn serving(path: &str, reply: Reply) -> HttpServer {
    let server = HttpServer::start().await;
    server.set(path, reply);
    server
}

#[tokio::test]
async fn an_unexpected_status_makes_the_node_dead_with_the_body_in_the_reason() {
    let good = serving("/health", Reply::json(r#"{"state": "up"}"#)).await;
    let bad = serving(
        "/health",
        Reply::json(r#"{"error": "service unavailable"}"#).with_status(503),
    )
    .await;
    let http = connector(config(
        &[good.url(""), bad.url("")],
        "requests: [{path: /health, expect_status: [200]}]",
    ));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Degraded);
    let node = bad.url("");
    assert_eq!(report.status_of(report.node_by_id(&node)), NodeStatus::Dead);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [format!(
            "node {node}: GET /health: HTTP 503: {{\"error\": \"service unavailable\"}}"
        )]
    );
    // The failed request still has its round trip and status.
    assert_eq!(
        report.one_value(Some(&node), "status_code", &[("request", "/health")]),
        503.0
    );
    assert!(report.node_value_of(&node, "request_ms").is_some());
}

#[tokio::test]
async fn no_node_answering_fails_the_collection_naming_each() {
    let (a, b) = (closed_url(), closed_url());
    let http = connector(config(
        &[a.clone(), b.clone()],
        "requests: [{path: /health}]",
    ));
    let error = try_collect(&http).await.unwrap_err();
    assert!(
        error.contains(&format!("node {a}: GET /health: ")),
        "{error}"
    );
    assert!(
        error.contains(&format!("; node {b}: GET /health: ")),
        "{error}"
    );
    assert!(error.contains("onnect"), "{error}");
}

#[tokio::test]
async fn every_node_dead_though_some_answered_is_unreachable() {
    let a = serving("/ok", Reply::json("{}")).await;
    a.set("/fail", Reply::json("{}").with_status(500));
    let http = connector(config(
        &[a.url("")],
        "requests: [{path: /ok}, {path: /fail}]",
    ));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Unreachable, "{report:#?}");
    assert!(report.has_reason(&["GET /fail: HTTP 500"]));
}

#[tokio::test]
async fn a_body_that_is_not_json_fails_the_request() {
    let html = "<html><body>502 Bad Gateway</body></html>";
    let proxy = serving(
        "/api",
        Reply {
            content_type: "application/json".into(),
            ..Reply::text(html)
        },
    )
    .await;
    let other = serving("/api", Reply::json("{\"n\": 1}")).await;
    let http = connector(config(
        &[proxy.url(""), other.url("")],
        "requests: [{path: /api, extract: [{name: n, path: $.n}]}]",
    ));
    let report = collect(&http).await;
    let node = proxy.url("");
    assert_eq!(report.status_of(report.node_by_id(&node)), NodeStatus::Dead);
    assert!(
        report.has_reason(&[
            &format!("node {node}: GET /api: the body is not JSON ("),
            html
        ]),
        "{report:#?}"
    );
    // format: json reads JSON whatever the Content-Type says; text reads it as a string.
    other.set("/api", Reply::text("{\"n\": 7}"));
    let http = connector(config(
        &[other.url("")],
        "requests: [{path: /api, format: json, extract: [{name: n, path: $.n}]}]",
    ));
    assert_eq!(
        collect(&http).await.node_value_of(&other.url(""), "n"),
        Some(7.0)
    );
}

#[tokio::test]
async fn a_body_too_large_fails_the_request() {
    let big = serving("/big", Reply::json(format!("[{}]", "1,".repeat(200) + "1"))).await;
    let small = serving("/big", Reply::json("[1]")).await;
    let http = connector(config(
        &[big.url(""), small.url("")],
        "{max_body_bytes: 100, requests: [{path: /big, extract: [{name: items, count: true}]}]}",
    ));
    let report = collect(&http).await;
    assert!(
        report.has_reason(&[&format!(
            "node {}: GET /big: the body is larger than 100 bytes",
            big.url("")
        ),]),
        "{report:#?}"
    );
    assert_eq!(report.node_value_of(&small.url(""), "items"), Some(1.0));
}

#[tokio::test]
async fn a_request_timeout_bounds_a_silent_server() {
    let silent = SilentServer::start().unwrap();
    let answering = serving("/h", Reply::json("{}")).await;
    let url = format!("http://{}", silent.endpoint());
    let http = connector(config(
        &[url.clone(), answering.url("")],
        "requests: [{path: /h, timeout: 300ms}]",
    ));
    let start = Instant::now();
    let report = collect(&http).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        report.has_reason(&[&format!(
            "node {url}: GET /h: no answer within 300ms (the request's timeout)"
        )]),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_missing_value_is_absent_unless_required() {
    let api = serving("/s", Reply::json(r#"{"a": 1, "text": "abc"}"#)).await;
    let http = connector(config(
        &[api.url("")],
        "requests: [{path: /s, extract: [{name: a, path: $.a}, {name: b, path: $.b}, {name: t, path: $.text}]}]",
    ));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(report.node_value_of(&api.url(""), "a"), Some(1.0));
    assert_eq!(report.node_value_of(&api.url(""), "b"), None);
    assert_eq!(report.node_value_of(&api.url(""), "t"), None);
    let http = connector(config(
        &[api.url("")],
        "requests: [{path: /s, extract: [{name: b, path: $.b, required: true}, {name: t, path: /text, required: true}]}]",
    ));
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Degraded);
    let node = api.url("");
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            format!("node {node}: GET /s: required metric b is missing: path $.b: selects nothing"),
            format!(
                "node {node}: GET /s: required metric t is missing: path /text: 'abc' is not a \
                 number (use equals:, in: or exists: for text)"
            ),
        ]
    );
}

#[tokio::test]
async fn node_status_rules_give_the_status_and_a_reason() {
    let up = serving("/state", Reply::json(r#"{"state": "ok"}"#)).await;
    let draining = serving("/state", Reply::json(r#"{"state": "draining"}"#)).await;
    let weird = serving("/state", Reply::json(r#"{"state": "confused"}"#)).await;
    let gone = serving("/state", Reply::json(r#"{"state": "decommissioned"}"#)).await;
    let http = connector(config(
        &[up.url(""), draining.url(""), weird.url(""), gone.url("")],
        "requests: [{path: /state, node_status: {path: $.state, live: [up, ok], draining: [draining], decommissioned: [decommissioned]}}]",
    ));
    let report = collect(&http).await;
    let status = |s: &HttpServer| report.status_of(report.node_by_id(&s.url("")));
    assert_eq!(status(&up), NodeStatus::Live);
    assert_eq!(status(&draining), NodeStatus::Draining);
    assert_eq!(status(&weird), NodeStatus::Unknown);
    assert_eq!(status(&gone), NodeStatus::Decommissioned);
    assert_eq!(report.status(), Status::Degraded);
    assert_eq!(
        report.reasons().collect::<Vec<_>>(),
        [
            format!(
                "node {} is draining (node_status: $.state is 'draining')",
                draining.url("")
            ),
            format!(
                "node {}: status unknown: $.state is 'confused', which none of node_status's \
                 lists holds",
                weird.url("")
            ),
        ]
    );
}

#[tokio::test]
async fn post_with_a_body_head_and_basic_auth() {
    let api = serving(
        "/search",
        Reply::json(r#"{"hits": {"total": {"value": 42}}}"#),
    )
    .await;
    api.set("/ping", Reply::json(""));
    let with_body = config(
        &[api.url("")],
        "requests: [{path: /ping, method: HEAD, body: x}]",
    );
    assert_eq!(
        common::build(with_body).err().unwrap().path,
        "options.requests[0].body"
    );
    let http = connector(
        config(
            &[api.url("/")],
            "requests:
  - {path: /search, method: post, body: '{\"query\": {\"match_all\": {}}}', extract: [{name: hits, path: /hits/total/value}]}
  - {path: /ping, method: HEAD}",
        )
        .with_auth(Some("monitor"), Some("s3cret")),
    );
    let report = collect(&http).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    let node = api.url("");
    assert_eq!(report.node_value_of(&node, "hits"), Some(42.0));
    let requests = api.requests();
    let post = requests.iter().find(|r| r.path == "/search").unwrap();
    assert_eq!(post.method, "POST");
    assert_eq!(post.body, br#"{"query": {"match_all": {}}}"#);
    assert_eq!(post.headers["content-type"], "application/json");
    // "monitor:s3cret" in base64.
    assert_eq!(post.headers["authorization"], "Basic bW9uaXRvcjpzM2NyZXQ=");
    let head = requests.iter().find(|r| r.path == "/ping").unwrap();
    assert_eq!(head.method, "HEAD");
    assert!(!format!("{report:?}").contains("s3cret"));
}

#[tokio::test]
async fn a_full_url_is_asked_once_as_a_node_of_its_own() {
    let endpoint = serving("/a", Reply::json(r#"{"x": 1}"#)).await;
    let other = serving("/leader", Reply::json(r#""10.0.0.1:8300""#)).await;
    let options = format!(
        "requests: [{{path: /a, extract: [{{name: x, path: $.x}}]}}, \
         {{name: leader, path: '{}', extract: [{{name: has_leader, path: $, regex: ':8300$', exists: true}}]}}, \
         {{path: '{}', extract: [{{name: x2, path: $.x}}]}}]",
        other.url("/leader"),
        endpoint.url("/a")
    );
    let http = connector(config(&[endpoint.url("")], &options));
    let report = collect(&http).await;
    assert_eq!(report.nodes().count(), 2, "{report:#?}");
    assert_eq!(
        report.node_value_of(&other.url(""), "has_leader"),
        Some(1.0)
    );
    // A full URL on an endpoint's origin belongs to that endpoint's node.
    assert_eq!(report.node_value_of(&endpoint.url(""), "x2"), Some(1.0));
    assert_eq!((endpoint.hits("/a"), other.hits("/leader")), (2, 1));
}

#[tokio::test]
async fn prometheus_text_is_read_by_series_name_and_labels() {
    let body = "# HELP up Whether the target is up.\n# TYPE up gauge\nup{job=\"api\"} 1\nup{job=\"db\"} 0\n\
                # TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027\nhttp_requests_total{code=\"500\"} 3\n";
    let target = serving("/metrics", Reply::text(body)).await;
    let http = connector(config(
        &[target.url("")],
        "requests: [{path: /metrics, format: prometheus, extract: [
            {name: db_up, path: up, match: {job: db}},
            {name: jobs, path: up, count: true},
            {name: requests, path: http_requests_total, kind: counter},
            {name: all_up, path: up, equals: 1}]}]",
    ));
    let report = collect(&http).await;
    let node = Some(target.url(""));
    let node = node.as_deref();
    assert_eq!(report.exact_value(node, "db_up", &[("job", "db")]), 0.0);
    assert_eq!(report.exact_value(node, "jobs", &[]), 2.0);
    assert_eq!(
        report.exact_value(node, "requests", &[("code", "200")]),
        1027.0
    );
    assert_eq!(
        report.exact_value(node, "requests", &[("code", "500")]),
        3.0
    );
    assert_eq!(report.exact_value(node, "all_up", &[("job", "api")]), 1.0);
    assert_eq!(report.exact_value(node, "all_up", &[("job", "db")]), 0.0);
    let kind = report
        .series()
        .find(|s| s.name() == "requests")
        .unwrap()
        .kind();
    assert_eq!(kind, dbmon_connector_api::MetricKind::Counter);
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_named_so() {
    // Answers every connection with a line of another protocol and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"-ERR unknown command 'GET'\r\n").await;
        }
    });
    let http = connector(config(
        std::slice::from_ref(&url),
        "requests: [{path: /health}]",
    ));
    let error = try_collect(&http).await.unwrap_err();
    server.abort();
    assert!(
        error.starts_with(&format!("node {url}: GET /health: ")),
        "{error}"
    );
    assert!(error.contains("did not answer with HTTP"), "{error}");
}

#[tokio::test]
async fn a_body_that_is_not_prometheus_text_fails_the_request() {
    let page = serving(
        "/metrics",
        Reply {
            content_type: "text/html".into(),
            ..Reply::text("<html>\n<body>login required</body>\n</html>\n")
        },
    )
    .await;
    let good = serving("/metrics", Reply::text("up 1\n")).await;
    let http = connector(config(
        &[page.url(""), good.url("")],
        "requests: [{path: /metrics, format: prometheus, extract: [{name: up, path: up}]}]",
    ));
    let report = collect(&http).await;
    let node = page.url("");
    assert_eq!(report.status_of(report.node_by_id(&node)), NodeStatus::Dead);
    assert!(
        report.has_reason(&[
            &format!("node {node}: GET /metrics: the body is not Prometheus text ("),
            "<html> <body>login required",
        ]),
        "{report:#?}"
    );
    assert_eq!(report.node_value_of(&good.url(""), "up"), Some(1.0));
}

#[tokio::test]
async fn a_large_answer_reads_the_same_as_a_small_one() {
    // Over 256 KiB: read on tokio's blocking pool.
    let checks: Vec<serde_json::Value> = (0..2000)
        .map(|i| {
            serde_json::json!({"Node": format!("node-{i}"), "CheckID": "serfHealth",
                "Status": if i % 3 == 0 { "critical" } else { "warning" },
                "Output": "x".repeat(100)})
        })
        .collect();
    let body = serde_json::to_string(&checks).unwrap();
    assert!(body.len() > 256 << 10, "{}", body.len());
    let api = serving("/checks", Reply::json(body)).await;
    let http = connector(config(
        &[api.url("")],
        "requests: [{path: /checks, extract: [
            {name: checks, path: '$[*]', count: true},
            {name: critical, path: '$[?@.Status == \"critical\"]', count: true},
            {name: check_critical, each: '$[*]', path: $.Status, equals: critical, labels: {node: $.Node}}]}]",
    ));
    let report = collect(&http).await;
    let node = Some(api.url(""));
    let node = node.as_deref();
    let critical = checks.iter().filter(|c| c["Status"] == "critical").count();
    assert_eq!(report.exact_value(node, "checks", &[]), checks.len() as f64);
    assert_eq!(report.exact_value(node, "critical", &[]), critical as f64);
    assert_eq!(
        report.series_of(node, "check_critical", &[]).len(),
        checks.len()
    );
    assert_eq!(
        report.exact_value(node, "check_critical", &[("node", "node-3")]),
        1.0
    );
    assert_eq!(
        report.exact_value(node, "check_critical", &[("node", "node-4")]),
        0.0
    );
}

#[tokio::test]
async fn an_endpoint_with_a_base_path_prefixes_every_request() {
    let api = serving("/api/v2/status", Reply::json(r#"{"ok": true}"#)).await;
    let base = api.url("/api/v2/");
    let http = connector(config(
        std::slice::from_ref(&base),
        "requests: [{path: /status, extract: [{name: ok, path: $.ok}]}]",
    ));
    let report = collect(&http).await;
    let id = api.url("/api/v2");
    assert_eq!(report.node_value_of(&id, "ok"), Some(1.0), "{report:#?}");
    assert_eq!(
        report.address_of(report.node_by_id(&id)),
        Some(api.addr.to_string().as_str())
    );
    assert_eq!(api.hits("/api/v2/status"), 1);
}
