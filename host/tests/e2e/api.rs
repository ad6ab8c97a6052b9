use crate::{cli, client, lib, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::Host;
use std::time::Duration;
use tonic::transport::Channel;

const CONFIG: &str = "
clusters:
  - {id: local, connector: system, interval: 500ms, timeout: 400ms}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_clusters_are_not_found_and_the_cli_names_the_known_ones() {
    let host = Host::start(CONFIG, &[lib("system")]);
    let mut grpc = client(&host).await;
    let request = proto::GetReportsRequest {
        cluster_id: "nope".into(),
        limit: 1,
        since: None,
    };
    let err = grpc.get_reports(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(err.message(), "unknown cluster 'nope'; clusters: local");

    let out = cli(&host, &["reports", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown cluster 'nope'; clusters: local"),
        "{stderr}"
    );
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let host = Host::start(CONFIG, &[lib("system")]);
    let channel = Channel::from_shared(host.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();

    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "dbmon.v1.Monitor"] {
        let check = HealthCheckRequest {
            service: service.into(),
        };
        let status = health.check(check).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "service '{service}'");
    }

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"dbmon.v1.Monitor".to_string()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );

    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest as AlphaRequest,
        server_reflection_client::ServerReflectionClient as AlphaClient,
        server_reflection_request::MessageRequest as AlphaMessage,
    };
    let mut alpha = AlphaClient::new(channel);
    let request = AlphaRequest {
        host: String::new(),
        message_request: Some(AlphaMessage::FileContainingSymbol(
            "dbmon.v1.Monitor".into(),
        )),
    };
    let mut responses = alpha
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    assert!(response.message_response.is_some(), "{response:?}");
}

#[tokio::test]
async fn sigterm_stops_the_host_cleanly_with_a_watch_open() {
    let mut host = Host::start(CONFIG, &[lib("system")]);
    reports_when(&host, "local", 1, Duration::from_secs(15)).await;
    let mut grpc = client(&host).await;
    let mut stream = grpc
        .watch(proto::WatchRequest {
            cluster_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    let status = tokio::task::spawn_blocking(move || {
        let status = host.stop();
        (status, host.log())
    });
    let (status, log) = status.await.unwrap();
    let status = status.expect("host was running");
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("stopped"), "{log}");
    // The stream ends instead of hanging.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.message().await {}
    });
    assert!(end.await.is_ok());
}

/// A command's typed error reaches the client as its status code: bad arguments are
/// INVALID_ARGUMENT (the redis connector checks them before it connects anywhere).
#[tokio::test]
async fn a_commands_bad_arguments_are_invalid_argument() {
    let config = "clusters:\n  - {id: cache, connector: redis, interval: 1h, timeout: 2s, endpoints: ['127.0.0.1:1']}\n";
    let host = Host::start(config, &[lib("redis")]);
    let mut grpc = client(&host).await;
    let run = |args: &[&str]| proto::RunCommandRequest {
        cluster_id: "cache".into(),
        command: "slowlog".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    };
    let bad = grpc.run_command(run(&["lots"])).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    assert!(bad.message().contains("got 'lots'"), "{}", bad.message());
    // A good call that cannot reach the server stays a plain failure.
    let down = grpc.run_command(run(&["3"])).await.unwrap_err();
    assert_eq!(down.code(), tonic::Code::FailedPrecondition, "{down:?}");
}
