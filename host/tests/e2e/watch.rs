use crate::{client, lib};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

const CONFIG: &str = "
clusters:
  - {id: local, connector: system, interval: 400ms, timeout: 300ms}
  - {id: ticker, connector: misbehave, interval: 300ms, timeout: 200ms, options: {mode: ok}}
  - {id: broken, connector: misbehave, interval: 300ms, timeout: 200ms, options: {mode: fail}}
";

#[tokio::test]
async fn watch_streams_every_cluster_at_least_twice() {
    let host = Host::start(CONFIG, &[lib("system"), lib("misbehave")]);
    let mut grpc = client(&host).await;
    let mut stream = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .expect("Watch")
        .into_inner();
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let collect = async {
        while let Some(report) = stream.message().await.expect("stream") {
            seen.entry(report.cluster_id.clone())
                .or_default()
                .push(report.sequence);
            if seen.len() == 3 && seen.values().all(|s| s.len() >= 2) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .unwrap_or_else(|_| panic!("watch saw only {seen:?}"));
    for (cluster, sequences) in &seen {
        assert!(
            sequences.windows(2).all(|w| w[0] < w[1]),
            "{cluster}: {sequences:?}"
        );
    }
}

#[tokio::test]
async fn watch_of_one_cluster_sends_only_that_cluster() {
    let host = Host::start(CONFIG, &[lib("system"), lib("misbehave")]);
    let mut grpc = client(&host).await;
    let mut stream = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec!["broken".into()],
        })
        .await
        .expect("Watch")
        .into_inner();
    for _ in 0..3 {
        let report = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a report within 10 s")
            .expect("stream")
            .expect("open stream");
        assert_eq!(report.cluster_id, "broken");
        assert_eq!(report.status, proto::Status::Unreachable as i32);
        assert!(report.error.unwrap_or_default().contains("asked to fail"));
    }
    let unknown = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec!["nope".into()],
        })
        .await;
    assert_eq!(unknown.err().map(|e| e.code()), Some(tonic::Code::NotFound));
}

/// Resident memory of a process, from /proc.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// A Watch on a connection of its own with small windows (see `small_window_client`).
async fn open_watch(url: &str) -> tonic::Streaming<proto::Report> {
    let mut grpc = crate::small_window_client(url).await;
    grpc.watch(proto::WatchRequest {
        cluster_ids: vec![],
    })
    .await
    .expect("Watch")
    .into_inner()
}

/// Two clusters of 2,000-series reports (~0.2 MB each on the wire, ~0.7 MB as a converted
/// message in memory) every 250 ms.
const LARGE: &str = "
store: {history: 10}
clusters:
  - {id: big-1, connector: misbehave, interval: 250ms, timeout: 200ms, jitter: 0s, options: {mode: ok, series: 2000}}
  - {id: big-2, connector: misbehave, interval: 250ms, timeout: 200ms, jitter: 0s, options: {mode: ok, series: 2000}}
";

#[tokio::test]
async fn stalled_watchers_pin_no_reports_and_fall_behind_with_a_clear_status() {
    let host = Host::start(LARGE, &[lib("misbehave")]);
    // The history full (10 reports of 0.2 MB each).
    let mut grpc = client(&host).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let latest = grpc
            .get_reports(proto::GetReportsRequest {
                cluster_id: "big-2".into(),
                limit: 1,
                since: None,
            })
            .await
            .expect("GetReports")
            .into_inner()
            .reports;
        if latest.first().is_some_and(|r| r.sequence >= 10) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "big-2 is not reporting: {}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = rss_mib(host.pid());

    // Five stalled clients on their own connections, five more streams on one connection:
    // none of them reads a message.
    let mut stalled = Vec::new();
    for _ in 0..5 {
        stalled.push(open_watch(&host.url).await);
    }
    let mut shared = client(&host).await;
    for _ in 0..5 {
        let stream = shared
            .watch(proto::WatchRequest {
                cluster_ids: vec![],
            })
            .await
            .expect("Watch")
            .into_inner();
        stalled.push(stream);
    }

    // One healthy watcher reads everything meanwhile.
    let mut healthy = open_watch(&host.url).await;
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(6) {
        let report = tokio::time::timeout(Duration::from_secs(2), healthy.message())
            .await
            .expect("the healthy watcher receives within 2 s")
            .expect("stream")
            .expect("open");
        seen.entry(report.cluster_id)
            .or_default()
            .push(report.sequence);
    }
    let after = rss_mib(host.pid());
    // It got every report, in order, and is not behind the store.
    for (cluster, sequences) in &seen {
        assert!(
            sequences.windows(2).all(|w| w[1] == w[0] + 1),
            "{cluster}: {sequences:?}"
        );
        let latest = grpc
            .get_reports(proto::GetReportsRequest {
                cluster_id: cluster.clone(),
                limit: 1,
                since: None,
            })
            .await
            .unwrap()
            .into_inner()
            .reports[0]
            .sequence;
        let last = *sequences.last().unwrap();
        assert!(
            latest <= last + 3,
            "{cluster}: the healthy watcher is at {last}, the store at {latest}"
        );
    }
    assert_eq!(seen.len(), 2, "{:?}", seen.keys());
    // Before, each stalled watcher queued up to 256 converted reports (~1 MB each in memory
    // here): gigabytes for ten of them.
    assert!(
        after - before < 150.0,
        "RSS grew from {before:.0} MiB to {after:.0} MiB with 10 stalled watchers"
    );

    // A stalled watcher that reads again gets what was in flight, then a clear end. (One on a
    // connection of its own: on the shared one, the other stalled streams hold the
    // connection's flow-control window, which is that client's own doing.)
    let mut late = stalled.swap_remove(0);
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match late.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended with OK"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stalled stream ends within 10 s once read");
    assert_eq!(end.code(), tonic::Code::Aborted, "{end:?}");
    assert!(end.message().contains("fell behind"), "{end:?}");
    assert!(end.message().contains("since"), "{end:?}");
    assert!(host.log().contains("fell behind"), "{}", host.log());
}

#[tokio::test]
async fn watchers_beyond_the_per_connection_stream_limit_wait_or_are_refused_but_never_pile_up() {
    let host = Host::start(CONFIG, &[lib("system"), lib("misbehave")]);
    let mut shared = client(&host).await;
    let mut open = Vec::new();
    for _ in 0..100 {
        open.push(
            shared
                .watch(proto::WatchRequest {
                    cluster_ids: vec![],
                })
                .await
                .expect("Watch")
                .into_inner(),
        );
    }
    // The 101st stream on the same connection is not accepted while the others are open.
    let extra = tokio::time::timeout(
        Duration::from_secs(2),
        shared.watch(proto::WatchRequest {
            cluster_ids: vec![],
        }),
    )
    .await;
    assert!(
        !matches!(extra, Ok(Ok(_))),
        "a 101st concurrent stream was accepted on one connection"
    );
    // Another connection is served.
    let mut other = open_watch(&host.url).await;
    tokio::time::timeout(Duration::from_secs(5), other.message())
        .await
        .expect("a report on a new connection")
        .expect("stream");
}

#[tokio::test]
async fn watchers_beyond_api_max_watchers_are_resource_exhausted() {
    let config = format!("api: {{max_watchers: 2}}\n{CONFIG}");
    let host = Host::start(&config, &[lib("system"), lib("misbehave")]);
    let first = open_watch(&host.url).await;
    let _second = open_watch(&host.url).await;
    let mut grpc = client(&host).await;
    let refused = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .expect_err("a third watcher");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("api.max_watchers"),
        "{refused:?}"
    );
    // A closed stream gives its seat back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = grpc
            .watch(proto::WatchRequest {
                cluster_ids: vec![],
            })
            .await;
        if again.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the seat was not given back: {again:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_reads_nothing_has_its_connection_closed_after_the_stall_timeout() {
    let config = LARGE.replace(
        "store: {history: 10}",
        "store: {history: 10}\napi: {watch_stall_timeout: 2s, max_watchers: 2}",
    );
    let host = Host::start(&config, &[lib("misbehave")]);
    let mut stalled = vec![open_watch(&host.url).await, open_watch(&host.url).await];
    let mut grpc = client(&host).await;
    let refused = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .expect_err("both seats are taken");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    // Both stall (neither reads); within the timeout and a sweep their connections close and
    // their seats come back.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut again = loop {
        match grpc
            .watch(proto::WatchRequest {
                cluster_ids: vec![],
            })
            .await
        {
            Ok(stream) => break stream.into_inner(),
            Err(e) => assert!(
                Instant::now() < deadline,
                "no seat came back: {e:?}; log:\n{}",
                host.log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(host.log().contains("read nothing for"), "{}", host.log());
    // The stalled clients learn that their connection is gone once they read.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled[0].message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stalled stream ends");
    assert!(end.is_err(), "{end:?}");
    // A reading watcher is left alone.
    tokio::time::timeout(Duration::from_secs(5), again.message())
        .await
        .expect("a report")
        .expect("stream");
    drop(stalled);
}

#[tokio::test]
async fn the_starting_reports_are_not_counted_as_lag() {
    // Two reports of ~0.2 MB to start with, a lag limit of ~0.3 MB: the snapshot is what the
    // client asked for, so it goes out whole.
    let config = LARGE.replace(
        "store: {history: 10}",
        "store: {history: 10}\napi: {watch_max_lag_bytes: 300000}",
    );
    let host = Host::start(&config, &[lib("misbehave")]);
    crate::reports_when(&host, "big-1", 1, Duration::from_secs(10)).await;
    crate::reports_when(&host, "big-2", 1, Duration::from_secs(10)).await;
    let mut stream = open_watch(&host.url).await;
    for _ in 0..2 {
        let first = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("a message within 5 s");
        assert!(
            matches!(first, Ok(Some(_))),
            "the snapshot was refused as lag: {first:?}"
        );
    }
}
