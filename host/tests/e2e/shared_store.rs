//! Several servers on one shared store (`store: {kind: redis}`), as real processes on
//! loopback with their own redis-server: a report pushed to one server is served by every
//! other one, with the same sequence, once; a collector that fails over to another server
//! stores nothing twice and loses nothing; a Redis restart (append-only file on) loses
//! nothing acknowledged, and health says NOT_SERVING for `dbmon.store` while it is away.

use crate::{client, lib};
use dbmon_proto as proto;
use dbmon_test_support::{
    Host,
    redis::{Cluster, Server},
};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

const CLUSTER: &str = "clusters:\n  - {id: edge, connector: misbehave, interval: 200ms, timeout: 150ms, jitter: 0s, options: {mode: ok, series: 3}}\n";

/// A server of the shared store at `url` (`cluster`: a Redis Cluster).
fn server(url: &str, cluster: bool) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "store: {{kind: redis, url: '{url}', cluster: {cluster}, history: 1000}}\nclusters: []\n"
    );
    Host::start_in_with(
        dir,
        &config,
        &["--role", "server", "--listen", "127.0.0.1:0"],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A collector of `edge` pushing to these servers (the first one first).
fn collector(upstreams: &[&Host]) -> Host {
    let dir = crate::folder_with_plugins(&[(&lib("misbehave"), "libdbmon_connector_misbehave.so")]);
    let list: Vec<String> = upstreams.iter().map(|h| format!("'{}'", h.url)).collect();
    let config = format!(
        "collector: {{id: c1, upstream: [{}]}}\n{CLUSTER}",
        list.join(", ")
    );
    Host::start_in_with(dir, &config, &["--role", "collector"]).unwrap_or_else(|e| panic!("{e}"))
}

fn kill9(host: &Host) {
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(host.pid() as libc::pid_t, libc::SIGKILL) };
}

/// `edge`'s reports on `host`, oldest first (empty while it has none).
async fn reports(host: &Host) -> Vec<proto::Report> {
    let mut client = client(host).await;
    let request = proto::GetReportsRequest {
        cluster_id: "edge".into(),
        limit: 0,
        since: None,
    };
    match client.get_reports(request).await {
        Ok(r) => {
            let mut reports = r.into_inner().reports;
            reports.reverse();
            reports
        }
        Err(_) => Vec::new(),
    }
}

/// `edge`'s reports on `host` once `ready` holds for them; panics after `within`.
async fn reports_when(
    host: &Host,
    within: Duration,
    log: impl Fn() -> String,
    ready: impl Fn(&[proto::Report]) -> bool,
) -> Vec<proto::Report> {
    let deadline = Instant::now() + within;
    loop {
        let reports = reports(host).await;
        if ready(&reports) {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "not ready after {within:?}: {} reports\n{}",
            reports.len(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (sequence, collector sequence) of each report.
fn numbers(reports: &[proto::Report]) -> Vec<(u64, u64)> {
    reports
        .iter()
        .map(|r| (r.sequence, r.collector_sequence))
        .collect()
}

/// Sequences 1, 2, 3, ... and collector sequences without a gap or a repeat.
fn assert_contiguous(reports: &[proto::Report], what: &str) {
    for pair in reports.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence + 1,
            "{what}: {:?}",
            numbers(reports)
        );
        assert_eq!(
            pair[1].collector_sequence,
            pair[0].collector_sequence + 1,
            "{what}: {:?}",
            numbers(reports)
        );
    }
}

fn contiguous(reports: &[proto::Report]) -> bool {
    reports.windows(2).all(|p| {
        p[1].sequence == p[0].sequence + 1 && p[1].collector_sequence == p[0].collector_sequence + 1
    })
}

/// A Watch of every cluster on `host`, collecting what it streams until it ends.
fn watch(host: &Host) -> tokio::task::JoinHandle<(Vec<proto::Report>, Option<tonic::Status>)> {
    let url = host.url.clone();
    tokio::spawn(async move {
        let mut client = proto::monitor_client::MonitorClient::connect(url)
            .await
            .unwrap();
        let mut stream = client
            .watch(proto::WatchRequest {
                cluster_ids: vec![],
            })
            .await
            .unwrap()
            .into_inner();
        let mut got = Vec::new();
        loop {
            match stream.next().await {
                Some(Ok(report)) => got.push(report),
                Some(Err(status)) => return (got, Some(status)),
                None => return (got, None),
            }
        }
    })
}

/// The health of `service` on `host`.
async fn health(host: &Host, service: &str) -> i32 {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let Ok(channel) = tonic::transport::Endpoint::from_shared(host.url.clone())
        .unwrap()
        .connect()
        .await
    else {
        return -1;
    };
    let mut health = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: service.into(),
    };
    health
        .check(request)
        .await
        .map_or(-1, |r| r.into_inner().status)
}

async fn health_when(host: &Host, status: tonic_health::ServingStatus, within: Duration) {
    let deadline = Instant::now() + within;
    while health(host, "dbmon.store").await != status as i32 {
        assert!(
            Instant::now() < deadline,
            "no {status:?} for dbmon.store\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two servers on `url`; the collector pushes to the first; the second serves every report
/// (GetReports and a Watch opened before the first report) with the same numbers; the first
/// is killed, the collector fails over to the second, and every report is stored once.
async fn two_servers_share_one_store(url: &str, cluster: bool) {
    let a = server(url, cluster);
    let b = server(url, cluster);
    let watching = watch(&b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let collector = collector(&[&a, &b]);
    let log = || {
        format!(
            "a:\n{}\nb:\n{}\ncollector:\n{}",
            a.log(),
            b.log(),
            collector.log()
        )
    };
    let on_b = reports_when(&b, Duration::from_secs(30), log, |r| r.len() >= 10).await;
    let on_a = reports(&a).await;
    let n = on_b.len();
    assert_eq!(numbers(&on_a[..n]), numbers(&on_b), "{}", log());
    assert_eq!(on_b[0].sequence, 1);
    assert_eq!(on_b[0].collector, "c1");
    assert_contiguous(&on_b, "server b");
    for (x, y) in on_a.iter().zip(&on_b) {
        assert_eq!(x.metrics, y.metrics, "same values on both servers");
        assert_eq!(x.collected_at, y.collected_at);
    }

    // The collector goes over to b when a dies; b gets what a did not acknowledge.
    kill9(&a);
    let last_on_a = on_a.last().map_or(0, |r| r.collector_sequence);
    let log = || format!("b:\n{}\ncollector:\n{}", b.log(), collector.log());
    let all = reports_when(&b, Duration::from_secs(30), log, |r| {
        r.last()
            .is_some_and(|l| l.collector_sequence > last_on_a + 10)
    })
    .await;
    assert_eq!(all[0].sequence, 1);
    assert_contiguous(&all, "across the failover");

    // The Watch on b streamed every report once, in order.
    drop(collector);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut b = b;
    b.stop();
    let (watched, _) = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the watch ends with the server")
        .unwrap();
    assert!(
        watched.len() >= all.len(),
        "{} of {}",
        watched.len(),
        all.len()
    );
    assert_eq!(watched[0].sequence, 1);
    assert_contiguous(&watched, "watch on b");
}

#[tokio::test]
async fn two_servers_on_one_redis_serve_every_report_once_and_a_collector_fails_over() {
    let redis = Server::start_durable();
    two_servers_share_one_store(&format!("redis://{}", redis.address()), false).await;
}

#[tokio::test]
async fn two_servers_on_one_redis_cluster_serve_every_report_once() {
    let redis = Cluster::start();
    two_servers_share_one_store(&redis.urls()[0], true).await;
}

#[tokio::test]
async fn a_redis_restart_loses_nothing_acknowledged_and_health_says_when_it_is_away() {
    use tonic_health::ServingStatus;
    let mut redis = Server::start_durable();
    let url = format!("redis://{}", redis.address());
    let a = server(&url, false);
    let b = server(&url, false);
    let collector = collector(&[&a]);
    let log = || {
        format!(
            "a:\n{}\nb:\n{}\ncollector:\n{}",
            a.log(),
            b.log(),
            collector.log()
        )
    };
    reports_when(&b, Duration::from_secs(30), log, |r| r.len() >= 5).await;
    health_when(&a, ServingStatus::Serving, Duration::from_secs(5)).await;
    let watching = watch(&b);

    redis.kill();
    let acknowledged = reports(&a).await;
    health_when(&a, ServingStatus::NotServing, Duration::from_secs(10)).await;
    health_when(&b, ServingStatus::NotServing, Duration::from_secs(10)).await;
    // The servers serve what they hold meanwhile, and say why nothing new comes.
    assert!(reports(&b).await.len() >= 5);
    let clusters = b.cli_async(&["--json", "clusters"]).await;
    let text = String::from_utf8_lossy(&clusters.stdout);
    assert!(
        text.contains("store_note") && text.contains("unavailable"),
        "{text}"
    );

    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    health_when(&a, ServingStatus::Serving, Duration::from_secs(20)).await;
    health_when(&b, ServingStatus::Serving, Duration::from_secs(20)).await;
    let log = || {
        format!(
            "a:\n{}\nb:\n{}\ncollector:\n{}",
            a.log(),
            b.log(),
            collector.log()
        )
    };
    let last = acknowledged.last().unwrap().collector_sequence;
    let after = reports_when(&b, Duration::from_secs(30), log, |r| {
        r.last().is_some_and(|l| l.collector_sequence > last + 5)
    })
    .await;
    if !contiguous(&after) {
        panic!(
            "a gap after the restart: {:?}\n{}\nredis:\n{}",
            numbers(&after),
            log(),
            redis.log()
        );
    }

    // A server started now reads everything back from Redis: nothing acknowledged was lost.
    let c = server(&url, false);
    let reread = reports_when(&c, Duration::from_secs(10), || c.log(), |r| !r.is_empty()).await;
    let kept = numbers(&reread);
    for report in &acknowledged {
        assert!(
            kept.contains(&(report.sequence, report.collector_sequence)),
            "report {} lost: {kept:?}",
            report.sequence
        );
    }
    assert_contiguous(&reread, "read back");

    // The Watch opened before the restart went on, or ended with UNAVAILABLE; what it
    // streamed has no gap and no repeat either way.
    drop(collector);
    let mut b = b;
    b.stop();
    let (watched, ended) = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the watch ends with the server")
        .unwrap();
    if let Some(status) = ended {
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    }
    assert_contiguous(&watched, "watch across the restart");
    assert!(watched.len() > 5, "{}", watched.len());
}
