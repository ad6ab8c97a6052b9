use super::*;
use crate::{
    plugins::convert,
    store::{ClusterInfo, Collection, Outcome},
};
use axum::body::Body;
use dbmon_connector_api::{NodeStatus, Report as Builder};
use futures::StreamExt as _;
use std::time::{Duration, SystemTime};
use tower::ServiceExt as _;

fn info(id: &str, connector: &str) -> ClusterInfo {
    ClusterInfo {
        id: id.into(),
        connector: connector.into(),
        endpoints: vec![],
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    }
}

/// A report with one node and two metrics, `load` and a node's `mem` in bytes.
fn healthy(seq: u64, load: f64) -> Collection {
    let mut b = Builder::new();
    b.metric("load", load).unit("1").help("load average");
    let node = b.node("n<1>", NodeStatus::Live);
    b.node_address(node, "10.0.0.1:26257");
    b.node_metric(node, "mem", 1024.0 * seq as f64)
        .unit("bytes");
    collection(
        seq,
        Outcome::Collected(convert::collected(&b.into_ffi()).unwrap()),
    )
}

fn unhealthy(seq: u64, reason: &str) -> Collection {
    let mut b = Builder::new();
    b.metric("load", 9.0);
    b.unhealthy(reason);
    collection(
        seq,
        Outcome::Collected(convert::collected(&b.into_ffi()).unwrap()),
    )
}

fn collection(seq: u64, outcome: Outcome) -> Collection {
    Collection {
        sequence: seq,
        started_at: SystemTime::now(),
        duration: Duration::from_millis(seq * 2),
        outcome,
        origin: None,
    }
}

/// A store of three clusters: `a` healthy (3 reports), `b` failing, `c` without a report.
fn store() -> Arc<Store> {
    let store = Store::new(
        [
            info("a", "misbehave"),
            info("b", "system"),
            info("c", "redis"),
        ],
        10,
    );
    let a = store.cluster("a").unwrap();
    for seq in 1..=3 {
        a.record_now(healthy(seq, seq as f64 / 2.0));
    }
    let b = store.cluster("b").unwrap();
    b.record_now(collection(1, Outcome::Failed("connection refused".into())));
    Arc::new(store)
}

fn sources(store: Arc<Store>, stopped: watch::Receiver<bool>) -> Sources {
    Sources {
        store,
        collectors: Arc::new(Collectors::new([])),
        live: Arc::new(crate::live::Live::new(
            Arc::default(),
            Arc::new([]),
            Default::default(),
        )),
        stopped,
    }
}

async fn get(router: &Router, path: &str) -> (StatusCode, String, String) {
    let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let kind = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn overview_lists_every_cluster_with_its_verdict() {
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(store(), stopped));
    let (status, kind, html) = get(&router, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "text/html; charset=utf-8");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<p id=\"summary\">3 clusters: 1 unreachable, 1 unknown, 1 healthy</p>"));
    let rows: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert_eq!(rows.len(), 3, "{html}");
    assert!(
        rows[0].starts_with("<tr class=\"v-healthy\" data-cluster=\"a\""),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("<a href=\"cluster/a\">a</a>"));
    assert!(rows[0].contains("✓ healthy"));
    assert!(rows[0].contains("<td class=\"wide\">misbehave</td>"));
    assert!(rows[0].contains("this host"));
    assert!(rows[0].contains("collection time, last 3 reports: 2 to 6 ms, now 6 ms"));
    assert!(rows[1].starts_with("<tr class=\"v-unreachable\" data-cluster=\"b\""));
    assert!(rows[1].contains("<ul><li>connection refused</li></ul>"));
    assert!(rows[2].starts_with("<tr class=\"v-unknown\" data-cluster=\"c\""));
    assert!(rows[2].contains("no report yet"));
    assert!(html.contains("<th scope=\"col\">Verdict</th>"));
    assert!(html.contains("src=\"./assets/live.js\""));
}

#[tokio::test]
async fn values_from_connectors_and_config_are_escaped() {
    let store = Store::new([info("x", "<b>conn</b>")], 10);
    let x = store.cluster("x").unwrap();
    x.record_now(unhealthy(1, "<script>alert(\"pwned\")</script> & 'more'"));
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(Arc::new(store), stopped));
    for path in ["/", "/cluster/x"] {
        let (_, _, html) = get(&router, path).await;
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(!html.contains("<b>conn"), "{path}: {html}");
        assert!(
            html.contains(
                "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;more&#39;"
            ),
            "{path}: {html}"
        );
    }
    let (_, _, html) = get(&router, "/").await;
    assert!(html.contains("&lt;b&gt;conn&lt;/b&gt;"));
    let (status, _, html) = get(&router, "/cluster/%3Cimg%20src=x%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<code>&lt;img src=x&gt;</code>"), "{html}");
}

#[tokio::test]
async fn cluster_page_shows_nodes_metrics_with_units_and_plots() {
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(store(), stopped));
    let (status, _, html) = get(&router, "/cluster/a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>a <span class=\"badge\" data-f=\"verdict\">✓ healthy</span></h1>"));
    assert!(html.contains(
        "<tr class=\"n-live\"><th scope=\"row\">n&lt;1&gt;</th><td>10.0.0.1:26257</td><td>live</td></tr>"
    ));
    let load = html
        .lines()
        .find(|l| l.contains(">load</th>"))
        .expect("a row for load");
    assert!(load.contains("title=\"load average\""));
    assert!(load.contains("<td class=\"num\">1.5 1</td>"), "{load}");
    assert!(load.contains("aria-label=\"load, last 3 reports: 0.5 to 1.5 1, now 1.5 1\""));
    assert!(
        load.contains("<path d=\"M0.0,46.5L120.0,24.0L240.0,1.5\"/>"),
        "{load}"
    );
    let mem = html.lines().find(|l| l.contains(">mem</th>")).unwrap();
    assert!(
        mem.contains("<td>node=n&lt;1&gt;</td><td class=\"num\">3072 bytes</td>"),
        "{mem}"
    );
    assert!(mem.contains("max 3072 bytes"));
    assert!(html.contains("<dt>Reports stored</dt><dd>3</dd>"));
    assert!(html.contains("href=\"../assets/style.css\""));
    let (_, _, unknown) = get(&router, "/cluster/c").await;
    assert!(unknown.contains("<p>No report yet.</p>"));
}

#[tokio::test]
async fn api_clusters_gives_the_rows_as_json() {
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(store(), stopped));
    let (status, kind, body) = get(&router, "/api/clusters").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "application/json")
    );
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    let verdicts: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("a", "healthy"), ("b", "unreachable"), ("c", "unknown")]
    );
    assert_eq!(rows[1]["reasons"][0], "connection refused");
    assert_eq!(rows[0]["stale_after_ms"], 35_000);
    assert!(
        rows[0]["spark"]["path"]
            .as_str()
            .unwrap()
            .starts_with("M0.0,")
    );
    assert!(rows[2]["last_report_at"].is_null());
}

#[tokio::test]
async fn assets_are_embedded() {
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(store(), stopped));
    let (status, kind, css) = get(&router, "/assets/style.css").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/css"));
    assert!(css.contains("@media (max-width: 48em)"));
    let (_, kind, js) = get(&router, "/assets/live.js").await;
    assert_eq!(kind, "text/javascript");
    assert!(js.contains("new EventSource"));
    assert!(
        !js.contains("innerHTML"),
        "the script writes values as text only"
    );
}

/// The next SSE event of `body` (skipping comments), as (event, data); `None` at the end.
async fn next_event(
    body: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
) -> Option<(String, String)> {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v.into();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if !event.is_empty() {
                return Some((event, data));
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("an event within 5 s")?
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

async fn open_events(router: &Router, path: &str) -> axum::response::Response {
    let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
    router.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn events_start_with_every_row_then_follow_new_reports() {
    let store = store();
    let (stop, stopped) = watch::channel(false);
    let router = router(sources(Arc::clone(&store), stopped));
    let response = open_events(&router, "/events").await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (event, data) = next_event(&mut body, &mut buffer).await.unwrap();
        assert_eq!(event, "cluster");
        let row: serde_json::Value = serde_json::from_str(&data).unwrap();
        ids.push(row["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(buffer.is_empty() || !buffer.contains("event:"));
    store
        .cluster("a")
        .unwrap()
        .record_now(unhealthy(4, "replica lag 90 s"));
    let (_, data) = next_event(&mut body, &mut buffer).await.unwrap();
    let row: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        (&row["id"], &row["verdict"], &row["reasons"][0]),
        (&"a".into(), &"unhealthy".into(), &"replica lag 90 s".into())
    );
    stop.send(true).unwrap();
    assert_eq!(
        next_event(&mut body, &mut buffer).await,
        None,
        "the stop ends the stream"
    );
}

#[tokio::test]
async fn events_of_one_cluster() {
    let store = store();
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(Arc::clone(&store), stopped));
    let response = open_events(&router, "/events?cluster=c").await;
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let (_, data) = next_event(&mut body, &mut buffer).await.unwrap();
    assert!(data.contains("\"id\":\"c\""), "{data}");
    store.cluster("a").unwrap().record_now(healthy(4, 1.0));
    store.cluster("c").unwrap().record_now(unhealthy(1, "down"));
    let (_, data) = next_event(&mut body, &mut buffer).await.unwrap();
    assert!(
        data.contains("\"id\":\"c\"") && data.contains("\"unhealthy\""),
        "{data}"
    );
}

#[tokio::test]
async fn a_client_that_falls_behind_is_dropped_not_buffered() {
    let store = store();
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(Arc::clone(&store), stopped));
    let response = open_events(&router, "/events").await;
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    // More reports than the store's notices hold, while the client reads nothing.
    let a = store.cluster("a").unwrap();
    for seq in 4..4 + 5000 {
        a.record_now(healthy(seq, 1.0));
    }
    let mut events = 0;
    while next_event(&mut body, &mut buffer).await.is_some() {
        events += 1;
    }
    assert_eq!(
        events, 3,
        "the starting rows, then the end (the browser reconnects)"
    );
}

#[tokio::test]
async fn event_streams_are_limited() {
    let (_stop, stopped) = watch::channel(false);
    let router = router(sources(store(), stopped));
    let mut open = Vec::new();
    for _ in 0..MAX_EVENT_STREAMS {
        let response = open_events(&router, "/events").await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = open_events(&router, "/events").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    open.pop();
    let again = open_events(&router, "/events").await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its seat"
    );
}

#[test]
fn query_values_are_decoded() {
    assert_eq!(
        query_value("x=1&cluster=a%2Eb", "cluster").as_deref(),
        Some("a.b")
    );
    assert_eq!(query_value("cluster=", "cluster").as_deref(), Some(""));
    assert_eq!(query_value("clusters=a", "cluster"), None);
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn numbers_and_ages_read_well() {
    use super::{html::ago, svg::number};
    assert_eq!(number(3.0), "3");
    assert_eq!(number(1.23456), "1.23");
    assert_eq!(number(1234.56), "1234.6");
    assert_eq!(number(0.000012), "1.20e-5");
    assert_eq!(ago(Duration::from_secs(0)), "just now");
    assert_eq!(ago(Duration::from_secs(90)), "90 s ago");
    assert_eq!(ago(Duration::from_secs(600)), "10 min ago");
    assert_eq!(ago(Duration::from_secs(3 * 86_400)), "3 d ago");
    assert_eq!(
        super::svg::path(&[1.0, f64::NAN, 3.0], 10.0, 10.0),
        "M0.0,8.5M10.0,1.5"
    );
}
