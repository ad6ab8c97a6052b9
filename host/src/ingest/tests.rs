//! The Ingest service in process, driven by the generated client: what a session must open
//! with, which clusters a collector may take, and that a resent report is stored once.

use super::{Collectors, IngestService};
use crate::store::{ClusterInfo, Store};
use dbmon_proto::{self as proto, ingest};
use ingest::{collector_message::Message, ingest_client::IngestClient, server_message};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming};

/// A server with the local cluster `here` (collected by itself) and no collector yet.
async fn server() -> (String, Arc<Store>, Arc<Collectors>) {
    let here = ClusterInfo {
        id: "here".into(),
        connector: "system".into(),
        endpoints: vec![],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    };
    let store = Arc::new(Store::new([here], 10));
    let collectors = Arc::new(Collectors::new(["here".into()]));
    let service = IngestService::new(Arc::clone(&store), Arc::clone(&collectors));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ingest::ingest_server::IngestServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (url, store, collectors)
}

fn hello(collector: &str, incarnation: u64, clusters: &[&str]) -> ingest::CollectorMessage {
    let seconds = |s| {
        Some(prost_types::Duration {
            seconds: s,
            nanos: 0,
        })
    };
    let clusters = clusters
        .iter()
        .map(|id| ingest::CollectedCluster {
            id: id.to_string(),
            connector: "misbehave".into(),
            interval: seconds(1),
            timeout: seconds(1),
            ..Default::default()
        })
        .collect();
    ingest::CollectorMessage {
        message: Some(Message::Hello(ingest::Hello {
            collector_id: collector.into(),
            incarnation,
            clusters,
            ..Default::default()
        })),
    }
}

fn report(cluster: &str, sequence: u64, value: f64) -> ingest::CollectorMessage {
    let metric = proto::Metric {
        name: "m".into(),
        value,
        ..Default::default()
    };
    ingest::CollectorMessage {
        message: Some(Message::Report(ingest::PushedReport {
            sequence,
            report: Some(proto::Report {
                cluster_id: cluster.into(),
                sequence,
                collected_at: Some(std::time::SystemTime::now().into()),
                status: proto::Status::Healthy as i32,
                metrics: vec![metric],
                ..Default::default()
            }),
            ..Default::default()
        })),
    }
}

/// A session that sent `first`: the sender for more, and the server's answers.
async fn open(
    url: &str,
    first: ingest::CollectorMessage,
) -> Result<
    (
        mpsc::Sender<ingest::CollectorMessage>,
        Streaming<ingest::ServerMessage>,
    ),
    tonic::Status,
> {
    let mut client = IngestClient::connect(url.to_string()).await.unwrap();
    let (tx, rx) = mpsc::channel(16);
    tx.send(first).await.unwrap();
    let answers = client.push(ReceiverStream::new(rx)).await?.into_inner();
    Ok((tx, answers))
}

async fn next(answers: &mut Streaming<ingest::ServerMessage>) -> server_message::Message {
    tokio::time::timeout(Duration::from_secs(5), answers.message())
        .await
        .expect("an answer in time")
        .expect("the stream is fine")
        .expect("the stream is open")
        .message
        .expect("a message")
}

async fn welcome(answers: &mut Streaming<ingest::ServerMessage>) -> ingest::Welcome {
    match next(answers).await {
        server_message::Message::Welcome(w) => w,
        other => panic!("not a Welcome: {other:?}"),
    }
}

async fn ack(answers: &mut Streaming<ingest::ServerMessage>) -> (String, u64) {
    match next(answers).await {
        server_message::Message::Ack(a) => (a.cluster_id, a.sequence),
        other => panic!("not an Ack: {other:?}"),
    }
}

#[tokio::test]
async fn a_session_must_open_with_a_hello() {
    let (url, _, _) = server().await;
    let refused = open(&url, report("edge", 1, 1.0))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("Hello"), "{}", refused.message());
}

#[tokio::test]
async fn a_collector_may_not_take_a_cluster_the_server_collects_or_a_connected_collector_has() {
    let (url, _, _) = server().await;
    let refused = open(&url, hello("c1", 1, &["here"]))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("'here'"),
        "{}",
        refused.message()
    );

    let (_c1, mut answers) = open(&url, hello("c1", 1, &["edge"])).await.unwrap();
    welcome(&mut answers).await;
    let refused = open(&url, hello("c2", 1, &["edge"]))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("collector 'c1'"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_resent_report_is_acknowledged_and_stored_once() {
    let (url, store, collectors) = server().await;
    let (tx, mut answers) = open(&url, hello("c1", 7, &["edge"])).await.unwrap();
    assert_eq!(welcome(&mut answers).await.stored["edge"], 0);
    for (sequence, value) in [(1, 1.0), (2, 2.0), (2, 2.0), (1, 1.0), (3, 3.0)] {
        tx.send(report("edge", sequence, value)).await.unwrap();
        assert_eq!(ack(&mut answers).await, ("edge".to_string(), sequence));
    }
    let slot = store.cluster("edge").unwrap();
    let stored: Vec<u64> = slot
        .reports(0, None)
        .iter()
        .map(|r| r.origin.as_ref().unwrap().sequence)
        .collect();
    assert_eq!(stored, [3, 2, 1], "newest first, each once");
    let listed = collectors.list();
    assert_eq!((listed[0].reports_stored, listed[0].duplicates), (3, 2));

    // The same run of the collector reconnects: the Welcome says what is stored already.
    drop((tx, answers));
    let (_tx, mut answers) = open(&url, hello("c1", 7, &["edge"])).await.unwrap();
    assert_eq!(welcome(&mut answers).await.stored["edge"], 3);
    // A new run starts its sequences again; nothing of the old one is taken for it.
    let (tx, mut answers) = open(&url, hello("c1", 8, &["edge"])).await.unwrap();
    assert_eq!(welcome(&mut answers).await.stored["edge"], 0);
    tx.send(report("edge", 1, 9.0)).await.unwrap();
    ack(&mut answers).await;
    assert_eq!(slot.stored(), 4);
    assert_eq!(slot.latest().unwrap().values[0], 9.0);
}

#[tokio::test]
async fn a_report_of_a_cluster_the_hello_did_not_list_ends_the_session() {
    let (url, _, _) = server().await;
    let (tx, mut answers) = open(&url, hello("c1", 1, &["edge"])).await.unwrap();
    welcome(&mut answers).await;
    tx.send(report("other", 1, 1.0)).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), answers.message())
        .await
        .unwrap()
        .expect_err("the session ends with a status");
    assert_eq!(end.code(), Code::InvalidArgument);
    assert!(end.message().contains("'other'"), "{}", end.message());
}

fn coordinated(mut hello: ingest::CollectorMessage) -> ingest::CollectorMessage {
    if let Some(Message::Hello(h)) = &mut hello.message {
        h.coordinated = true;
    }
    hello
}

fn cluster_set(clusters: &[&str]) -> ingest::CollectorMessage {
    let Some(Message::Hello(hello)) = hello("x", 0, clusters).message else {
        unreachable!()
    };
    ingest::CollectorMessage {
        message: Some(Message::Clusters(ingest::ClusterSet {
            clusters: hello.clusters,
        })),
    }
}

#[tokio::test]
async fn a_coordinated_collector_takes_a_cluster_over_and_its_share_can_change() {
    let (url, store, collectors) = server().await;
    let (c1, mut answers1) = open(&url, coordinated(hello("c1", 1, &["a", "b"])))
        .await
        .unwrap();
    welcome(&mut answers1).await;
    // c2 joins and takes b: the coordinator moved it (and stopped it on c1 first).
    let (c2, mut answers2) = open(&url, coordinated(hello("c2", 1, &["b"])))
        .await
        .unwrap();
    welcome(&mut answers2).await;
    assert_eq!(&*collectors.remote("b").unwrap().collector, "c2");
    let listed = collectors.list();
    assert_eq!(listed[0].clusters, ["a"], "b left c1's list");
    // c1's share shrinks to a, then grows by c: c gets a slot on the server.
    c1.send(cluster_set(&["a", "c"])).await.unwrap();
    c1.send(report("c", 1, 5.0)).await.unwrap();
    assert_eq!(ack(&mut answers1).await, ("c".to_string(), 1));
    assert_eq!(store.cluster("c").unwrap().stored(), 1);
    assert_eq!(&*collectors.remote("c").unwrap().collector, "c1");
    // A late report of b from c1 (made before it stopped b) is still history.
    c1.send(report("b", 1, 1.0)).await.unwrap();
    assert_eq!(ack(&mut answers1).await, ("b".to_string(), 1));
    c2.send(report("b", 1, 2.0)).await.unwrap();
    assert_eq!(ack(&mut answers2).await, ("b".to_string(), 1));
    assert_eq!(store.cluster("b").unwrap().stored(), 2);
}

#[tokio::test]
async fn without_coordination_a_cluster_set_may_not_take_a_connected_collectors_cluster() {
    let (url, _, _) = server().await;
    let (_c1, mut answers1) = open(&url, hello("c1", 1, &["a"])).await.unwrap();
    welcome(&mut answers1).await;
    let (c2, mut answers2) = open(&url, hello("c2", 1, &["b"])).await.unwrap();
    welcome(&mut answers2).await;
    c2.send(cluster_set(&["a", "b"])).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), answers2.message())
        .await
        .unwrap()
        .expect_err("the session ends with a status");
    assert_eq!(end.code(), Code::FailedPrecondition);
    assert!(
        end.message().contains("collector 'c1'"),
        "{}",
        end.message()
    );
}
