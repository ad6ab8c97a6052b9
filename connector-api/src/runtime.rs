//! The library's own tokio runtime, and the wrapper that polls a connector's future inside it.
//!
//! Each connector `.so` carries its own copy of tokio, whose thread-locals the host's copy
//! cannot see. The host polls the future on its own worker thread (about 0.2 µs per call, no
//! cross-thread hop); this wrapper enters the library's runtime for every poll so that the
//! connector's sockets and timers register with the library's reactor, which one small worker
//! thread per library drives while the host waits.

use crate::ffi::{FfiError, FfiErrorKind};
use abi_stable::std_types::RResult;
use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
};
use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The library's runtime, started on first use.
pub(crate) fn handle(name: &str) -> Result<Handle, String> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(format!("dbmon-{name}"))
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the connector's runtime: {e}"))
        })
        .as_ref()
        .map(|rt| rt.handle().clone())
        .map_err(Clone::clone)
}

/// Polls `fut` inside the library's runtime context and turns a panic into an error.
pub(crate) struct InRuntime<F> {
    handle: Handle,
    fut: Option<Pin<Box<F>>>,
}

impl<F, T> InRuntime<F>
where
    F: Future<Output = Result<T, FfiError>>,
{
    pub(crate) fn new(handle: Handle, fut: F) -> Self {
        InRuntime {
            handle,
            fut: Some(Box::pin(fut)),
        }
    }
}

impl<F, T> Future for InRuntime<F>
where
    F: Future<Output = Result<T, FfiError>>,
{
    type Output = RResult<T, FfiError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY-free: `InRuntime` is Unpin (the inner future is boxed).
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(RResult::RErr(FfiError::new(
                FfiErrorKind::FAILED,
                "collection polled after it finished",
            )));
        };
        let _enter = this.handle.enter();
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                this.fut = None;
                Poll::Ready(result.into())
            }
            Err(payload) => {
                // A future that panicked may panic again when dropped, which would abort the
                // host: leak it instead.
                std::mem::forget(this.fut.take());
                Poll::Ready(RResult::RErr(FfiError::new(
                    FfiErrorKind::PANICKED,
                    panic_message(payload),
                )))
            }
        }
    }
}

impl<F> Drop for InRuntime<F> {
    fn drop(&mut self) {
        // Cancelled (timed out) collections drop their sockets and timers inside the runtime
        // that owns them.
        if let Some(fut) = self.fut.take() {
            let _enter = self.handle.enter();
            drop(fut);
        }
    }
}

/// "connector panicked: MESSAGE" from a panic payload.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    };
    format!("connector panicked: {message}")
}
