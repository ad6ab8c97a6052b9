//! `dbmon.v1.Monitor` as served: the generated service, except that Watch streams and
//! GetReports send reports encoded once and shared (`PreEncoded`; GetReports' answer as a
//! `Repeated`), instead of each stream and call converting and encoding every report again.
//! Same methods, same bytes on the wire.

use super::{EncodedStream, Monitor};
use dbmon_proto::{
    self as proto,
    codec::{PreEncoded, Repeated},
    monitor_server::MonitorServer,
};
use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};
use tonic::{
    Request, Response, Status,
    body::Body,
    codegen::{BoxFuture, StdError, http},
    server::{Grpc, NamedService, ServerStreamingService, UnaryService},
};

/// The paths of the methods this service answers itself.
const WATCH: &str = "/dbmon.v1.Monitor/Watch";
const GET_REPORTS: &str = "/dbmon.v1.Monitor/GetReports";

/// The Monitor service with its own Watch.
#[derive(Clone)]
pub struct MonitorService {
    monitor: Arc<Monitor>,
    generated: MonitorServer<Monitor>,
    max_message_bytes: usize,
}

impl MonitorService {
    /// Serves `monitor`, refusing requests over `max_message_bytes`.
    pub fn new(monitor: Monitor, max_message_bytes: usize) -> MonitorService {
        let monitor = Arc::new(monitor);
        let generated = MonitorServer::from_arc(Arc::clone(&monitor))
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(usize::MAX);
        MonitorService {
            monitor,
            generated,
            max_message_bytes,
        }
    }
}

impl NamedService for MonitorService {
    const NAME: &'static str = proto::monitor_server::SERVICE_NAME;
}

impl<B> tower::Service<http::Request<B>> for MonitorService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let max = self.max_message_bytes;
        if request.uri().path() == GET_REPORTS {
            let method = GetReportsMethod(Arc::clone(&self.monitor));
            return Box::pin(async move {
                let mut grpc =
                    Grpc::new(PreEncoded::<proto::GetReportsRequest, Repeated>::default())
                        .apply_max_message_size_config(Some(max), Some(usize::MAX));
                Ok(grpc.unary(method, request).await)
            });
        }
        if request.uri().path() != WATCH {
            return self.generated.call(request);
        }
        let method = WatchMethod(Arc::clone(&self.monitor));
        Box::pin(async move {
            let mut grpc = Grpc::new(PreEncoded::<proto::WatchRequest>::default())
                .apply_max_message_size_config(Some(max), Some(usize::MAX));
            Ok(grpc.server_streaming(method, request).await)
        })
    }
}

struct WatchMethod(Arc<Monitor>);

impl ServerStreamingService<proto::WatchRequest> for WatchMethod {
    type Response = Arc<[u8]>;
    type ResponseStream = EncodedStream;
    type Future = BoxFuture<Response<EncodedStream>, Status>;

    fn call(&mut self, request: Request<proto::WatchRequest>) -> Self::Future {
        let monitor = Arc::clone(&self.0);
        Box::pin(async move { monitor.open_watch(request).map(Response::new) })
    }
}

struct GetReportsMethod(Arc<Monitor>);

impl UnaryService<proto::GetReportsRequest> for GetReportsMethod {
    type Response = Repeated;
    type Future = BoxFuture<Response<Repeated>, Status>;

    fn call(&mut self, request: Request<proto::GetReportsRequest>) -> Self::Future {
        let monitor = Arc::clone(&self.0);
        Box::pin(async move {
            monitor
                .encoded_reports(request.into_inner())
                .map(Response::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::encodings,
        store::{
            ClusterInfo, Collected, Collection, MetricKind, Outcome, SchemaParts, SeriesDef, Span,
            Store,
        },
    };
    use dbmon_connector_api::Status as Verdict;
    use std::time::{Duration, SystemTime};

    fn monitor() -> Monitor {
        let info = ClusterInfo {
            id: "a".into(),
            connector: "c".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let store = Arc::new(Store::new([info], 10));
        let slot = store.cluster("a").unwrap();
        for sequence in 1..=3 {
            let parts = SchemaParts {
                text: "requests_totalRequests served.uph".into(),
                series: vec![
                    SeriesDef {
                        name: Span::new(0, 14),
                        help: Span::new(14, 16),
                        kind: MetricKind::Counter,
                        ..SeriesDef::default()
                    },
                    SeriesDef {
                        name: Span::new(30, 2),
                        ..SeriesDef::default()
                    },
                ],
                ..SchemaParts::default()
            };
            let values = [sequence as f64 * 10.0, 1.0];
            let collected =
                Collected::new(Verdict::Healthy, vec![], parts, values.into(), [].into()).unwrap();
            slot.record_now(Collection {
                sequence,
                started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(sequence),
                duration: Duration::from_millis(2),
                outcome: Outcome::Collected(collected),
                origin: None,
            });
        }
        Monitor::for_tests(store)
    }

    fn all() -> proto::GetReportsRequest {
        proto::GetReportsRequest {
            cluster_id: "a".into(),
            limit: 0,
            since: None,
        }
    }

    #[test]
    fn get_reports_calls_and_watchers_share_one_conversion_per_report() {
        let monitor = monitor();
        let converted = || encodings::CONVERSIONS.with(|c| c.get());
        let before = converted();
        let first = monitor.encoded_reports(all()).unwrap();
        let second = monitor.encoded_reports(all()).unwrap();
        let latest = monitor.store.cluster("a").unwrap().latest().unwrap();
        let watched = encodings::Encodings::default().of(&latest);
        assert_eq!(converted() - before, 3, "each stored report converted once");
        assert_eq!(first.field, 1);
        assert_eq!(first.items.len(), 3);
        for (a, b) in first.items.iter().zip(&second.items) {
            assert!(Arc::ptr_eq(a, b), "the second call sends the same bytes");
        }
        assert!(
            Arc::ptr_eq(&first.items[0], &watched),
            "and so does a watcher"
        );
        // The bytes are those prost writes for each converted report.
        let reports = monitor.store.cluster("a").unwrap().reports(0, None);
        for (bytes, report) in first.items.iter().zip(&reports) {
            let fresh = prost::Message::encode_to_vec(&crate::api::convert::report(report));
            assert_eq!(**bytes, *fresh);
        }
    }

    #[tokio::test]
    async fn get_reports_answers_as_the_generated_service_did_with_kinds_and_help() {
        let monitor = monitor();
        let expected = proto::GetReportsResponse {
            reports: monitor
                .store
                .cluster("a")
                .unwrap()
                .reports(2, None)
                .iter()
                .map(|r| crate::api::convert::report(r))
                .collect(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let service = MonitorService::new(monitor, 4 << 20);
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let mut client = proto::monitor_client::MonitorClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        let got = client
            .get_reports(proto::GetReportsRequest { limit: 2, ..all() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, expected);
        let metric = &got.reports[0].metrics[0];
        assert_eq!(metric.kind(), proto::MetricKind::Counter);
        assert_eq!(metric.help, "Requests served.");
        assert_eq!(
            got.reports[0].metrics[1].kind(),
            proto::MetricKind::Unspecified
        );
        assert_eq!(
            prost::Message::encode_to_vec(&got),
            prost::Message::encode_to_vec(&expected)
        );
        let unknown = client
            .get_reports(proto::GetReportsRequest {
                cluster_id: "nope".into(),
                ..all()
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
        server.abort();
    }
}
