use crate::{client, lib};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::{collections::HashMap, time::Duration};

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
