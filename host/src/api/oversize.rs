//! A request message over the size limit is RESOURCE_EXHAUSTED, as gRPC's status-code table
//! says; tonic answers OUT_OF_RANGE. tonic refuses the message from its length prefix, before
//! any handler runs, so the answer is corrected on its way out: a trailers-only response whose
//! status is tonic's own size refusal gets the right code and a message naming the setting.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};
use tonic::{
    Code, Status,
    codegen::http::{Request, Response},
};
use tower::{Layer, Service};

/// What tonic's decoder says of an oversized message.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

/// Wraps a service with [`Oversize`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OversizeLayer;

impl<S> Layer<S> for OversizeLayer {
    type Service = Oversize<S>;

    fn layer(&self, inner: S) -> Oversize<S> {
        Oversize(inner)
    }
}

/// The service with oversize refusals as RESOURCE_EXHAUSTED.
#[derive(Debug, Clone)]
pub struct Oversize<S>(S);

impl<S, B, R> Service<Request<B>> for Oversize<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let refused = Status::from_header_map(response.headers()).filter(|s| {
                s.code() == Code::OutOfRange && s.message().starts_with(TONIC_TOO_LARGE)
            });
            if let Some(status) = refused {
                let message = status.message().replacen(
                    TONIC_TOO_LARGE,
                    "the request is larger than the server accepts (api.max_message_bytes)",
                    1,
                );
                let _ = Status::resource_exhausted(message).add_header(response.headers_mut());
            }
            Ok(response)
        })
    }
}
