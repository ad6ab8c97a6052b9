//! The gRPC listener as other people's clients meet it: latency of sequential calls, bad and
//! oversized input, reflection and health as their specifications say, an HTTP/1.1 probe.

use crate::{client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Code, transport::Channel};
use tonic_prost::ProstCodec;

const CONFIG: &str = "
clusters:
  - {id: local, connector: system, interval: 300ms, timeout: 250ms, jitter: 0s}
";

async fn channel(host: &Host) -> Channel {
    Channel::from_shared(host.url.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

fn host() -> Host {
    Host::start(CONFIG, &[lib("system")])
}

#[tokio::test]
async fn two_hundred_sequential_get_reports_on_one_connection_take_well_under_a_second() {
    let host = host();
    reports_when(&host, "local", 1, Duration::from_secs(10)).await;
    let mut grpc = client(&host).await;
    let request = || proto::GetReportsRequest {
        cluster_id: "local".into(),
        limit: 1,
        since: None,
    };
    grpc.get_reports(request()).await.expect("warm-up call");
    let started = Instant::now();
    for _ in 0..200 {
        let reports = grpc.get_reports(request()).await.expect("GetReports");
        assert_eq!(reports.into_inner().reports.len(), 1);
    }
    let took = started.elapsed();
    // With Nagle's algorithm on the server's sockets each call waits ~40 ms for the client's
    // delayed ACK: 200 calls took ~9 s. Without it they take a few ms each at most.
    assert!(
        took < Duration::from_millis(1500),
        "200 sequential GetReports took {took:?}"
    );
}

/// A client that sends whatever message type it is given to a Monitor method.
async fn call_raw<M: prost::Message + 'static>(
    channel: Channel,
    method: &'static str,
    message: M,
) -> Result<proto::GetReportsResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(method);
    let codec = ProstCodec::<M, proto::GetReportsResponse>::default();
    grpc.unary(tonic::Request::new(message), path, codec)
        .await
        .map(|r| r.into_inner())
}

/// `GetReportsRequest` with its string field 1 sent as a varint.
#[derive(Clone, PartialEq, prost::Message)]
struct WrongWireType {
    #[prost(uint64, tag = "1")]
    cluster_id: u64,
}

/// `GetReportsRequest` with bytes that are not UTF-8 in its string field.
#[derive(Clone, PartialEq, prost::Message)]
struct NotUtf8 {
    #[prost(bytes = "vec", tag = "1")]
    cluster_id: Vec<u8>,
}

/// `GetReportsRequest` with its string field 1 sent as a fixed32.
#[derive(Clone, PartialEq, prost::Message)]
struct Fixed32 {
    #[prost(fixed32, tag = "1")]
    cluster_id: u32,
}

#[tokio::test]
async fn malformed_requests_are_invalid_argument() {
    let host = host();
    let channel = channel(&host).await;
    const PATH: &str = "/dbmon.v1.Monitor/GetReports";
    let wrong = call_raw(channel.clone(), PATH, WrongWireType { cluster_id: 7 }).await;
    let not_utf8 = call_raw(
        channel.clone(),
        PATH,
        NotUtf8 {
            cluster_id: vec![b'a', 0xff, 0xfe],
        },
    )
    .await;
    let fixed32 = call_raw(channel.clone(), PATH, Fixed32 { cluster_id: 1 }).await;
    for (what, result) in [
        ("wrong wire type", wrong),
        ("invalid UTF-8", not_utf8),
        ("fixed32 for a string", fixed32),
    ] {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(
            status.message().contains("not a valid message"),
            "{what}: {status:?}"
        );
    }
}

#[tokio::test]
async fn ids_are_validated_and_errors_quote_a_short_prefix() {
    let host = host();
    let mut grpc = client(&host).await;
    for id in ["x".repeat(1 << 20), "y".repeat(20_000), "no spaces".into()] {
        let status = grpc
            .get_reports(proto::GetReportsRequest {
                cluster_id: id.clone(),
                limit: 1,
                since: None,
            })
            .await
            .expect_err("a bad id");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().len() < 300, "{}", status.message().len());
        let watch = grpc
            .watch(proto::WatchRequest {
                cluster_ids: vec![id.clone()],
            })
            .await
            .expect_err("a bad id");
        assert_eq!(watch.code(), Code::InvalidArgument);
    }
    let unknown = grpc
        .get_reports(proto::GetReportsRequest {
            cluster_id: "nope".into(),
            limit: 1,
            since: None,
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().contains("local"), "{unknown:?}");
    let command = grpc
        .run_command(proto::RunCommandRequest {
            cluster_id: "local".into(),
            command: "c".repeat(10_000),
            args: vec![],
        })
        .await
        .expect_err("a bad command name");
    assert_eq!(command.code(), Code::InvalidArgument);
    assert!(command.message().len() < 300);
    // The CLI prints the server's short answer, not an HTTP/2 protocol error.
    let long = "z".repeat(20_000);
    let out = host.cli_async(&["reports", &long]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cluster id"), "{stderr}");
    assert!(!stderr.contains("h2 protocol error"), "{stderr}");
    assert!(stderr.len() < 500, "{}", stderr.len());
}

#[tokio::test]
async fn an_oversized_request_is_resource_exhausted() {
    let host = host();
    let mut grpc = client(&host).await;
    let status = grpc
        .get_reports(proto::GetReportsRequest {
            cluster_id: "x".repeat(5 << 20),
            limit: 1,
            since: None,
        })
        .await
        .expect_err("5 MiB request");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("max_message_bytes"), "{status:?}");
    // The connection still serves.
    grpc.list_clusters(proto::ListClustersRequest {})
        .await
        .expect("ListClusters after the refusal");
}

#[tokio::test]
async fn reflection_answers_an_unknown_symbol_with_an_error_response_and_goes_on() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let host = host();
    let mut reflection = ServerReflectionClient::new(channel(&host).await);
    let ask = |symbol: &str| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut answers = reflection
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    tx.send(ask("dbmon.v1.NoSuchThing")).await.unwrap();
    let first = answers.message().await.expect("stream").expect("an answer");
    match first.message_response {
        Some(MessageResponse::ErrorResponse(e)) => {
            assert_eq!(e.error_code, Code::NotFound as i32, "{e:?}")
        }
        other => panic!("wanted an error_response, got {other:?}"),
    }
    // The worker protocol is internal: not in the public package, and not served at all.
    for internal in ["dbmon.v1.WorkerRequest", "dbmon.worker.v1.WorkerRequest"] {
        tx.send(ask(internal)).await.unwrap();
        let answer = answers.message().await.expect("stream").expect("an answer");
        assert!(
            matches!(
                answer.message_response,
                Some(MessageResponse::ErrorResponse(_))
            ),
            "{internal} is served: {answer:?}"
        );
    }
    tx.send(ask("dbmon.v1.Monitor")).await.unwrap();
    let second = answers.message().await.expect("stream").expect("an answer");
    let Some(MessageResponse::FileDescriptorResponse(files)) = second.message_response else {
        panic!("wanted the file of dbmon.v1.Monitor, got {second:?}");
    };
    let file: prost_types::FileDescriptorProto =
        prost::Message::decode(&*files.file_descriptor_proto[0]).unwrap();
    assert_eq!(file.package(), "dbmon.v1");
    // Its imports come along (google/protobuf/timestamp.proto and duration.proto).
    assert!(
        files.file_descriptor_proto.len() > 1,
        "{}",
        files.file_descriptor_proto.len()
    );
    tx.send(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    })
    .await
    .unwrap();
    let third = answers.message().await.expect("stream").expect("an answer");
    let Some(MessageResponse::ListServicesResponse(list)) = third.message_response else {
        panic!("{third:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for wanted in [
        "dbmon.v1.Monitor",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(names.contains(&wanted), "{names:?}");
    }
}

#[tokio::test]
async fn health_watch_of_an_unknown_service_sends_service_unknown_and_stays_open() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let host = host();
    let mut health = HealthClient::new(channel(&host).await);
    let mut updates = health
        .watch(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect("Watch is accepted")
        .into_inner();
    let first = updates.message().await.expect("stream").expect("an update");
    assert_eq!(first.status, ServingStatus::ServiceUnknown as i32);
    let next = tokio::time::timeout(Duration::from_millis(500), updates.message()).await;
    assert!(next.is_err(), "the call must stay open, got {next:?}");
    let known = health
        .check(HealthCheckRequest {
            service: "dbmon.v1.Monitor".into(),
        })
        .await
        .expect("Check")
        .into_inner();
    assert_eq!(known.status, ServingStatus::Serving as i32);
}

#[tokio::test]
async fn a_plain_http1_request_gets_a_readable_answer() {
    let host = host();
    let address = host.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            format!("GET / HTTP/1.1\r\nHost: {address}\r\nUser-Agent: curl/8\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("gRPC"), "{answer}");
    assert!(answer.contains("dbmon --server"), "{answer}");
    // gRPC still works on the same port.
    let mut grpc = client(&host).await;
    grpc.list_clusters(proto::ListClustersRequest {})
        .await
        .expect("ListClusters");
}
