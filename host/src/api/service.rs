//! `dbmon.v1.Monitor` as served: the generated service, except that Watch streams send
//! reports encoded once and shared (`PreEncoded`), instead of each stream converting and
//! encoding every report again. Same method, same messages on the wire.

use super::{EncodedStream, Monitor};
use dbmon_proto::{self as proto, codec::PreEncoded, monitor_server::MonitorServer};
use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};
use tonic::{
    Request, Response, Status,
    body::Body,
    codegen::{BoxFuture, StdError, http},
    server::{Grpc, NamedService, ServerStreamingService},
};

/// The path of the method this service answers itself.
const WATCH: &str = "/dbmon.v1.Monitor/Watch";

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
        if request.uri().path() != WATCH {
            return self.generated.call(request);
        }
        let method = WatchMethod(Arc::clone(&self.monitor));
        let max = self.max_message_bytes;
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
