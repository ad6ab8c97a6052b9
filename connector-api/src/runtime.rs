//! The library's own tokio runtime, and the wrappers that run a connector's futures in it.
//!
//! Each connector `.so` carries its own copy of tokio, whose thread-locals the host's copy
//! cannot see. A collection runs as a task of the library's runtime ([`spawn`]): its sockets
//! and timers wake one of the library's two worker threads, which polls it there, and the
//! host's future is woken once, when the task ends. (Polled from the host's thread instead,
//! every socket event woke two threads: the library's, which drove the reactor, then the
//! host's: 0.87 against 0.56-0.73 ms per collection, BENCHMARKS.md §9.) Two workers, so that
//! one poll that blocks does not hold every other cluster of the connector. A command is rare
//! and polled by the host inside the library's runtime context ([`InRuntime`]), so that the
//! host and the conformance kit time its polls themselves.

use crate::ffi::{FfiError, FfiErrorKind};
use abi_stable::std_types::RResult;
use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll, ready},
    time::{Duration, Instant},
};
use tokio::{
    runtime::{Handle, Runtime},
    task::JoinHandle,
};

/// A poll that holds a thread longer than this is logged: the connector is blocking. The
/// host warns from the same figure for the futures it polls itself.
pub(crate) const SLOW_POLL: Duration = Duration::from_millis(50);

/// What the names of the runtime's threads start with (then the connector's name).
pub(crate) const THREAD_PREFIX: &str = "dbmon-";

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The library's runtime, started on first use.
pub(crate) fn handle(name: &str) -> Result<Handle, String> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(format!("{THREAD_PREFIX}{name}"))
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
        // `InRuntime` is Unpin (the inner future is boxed).
        let this = self.get_mut();
        let _enter = this.handle.enter();
        poll_caught(&mut this.fut, cx).map(Into::into)
    }
}

/// Polls the future in `slot` once, turning a panic into an error. The slot is emptied when
/// the future finishes; a future that panicked is leaked, since it may panic again when
/// dropped, which would abort the host.
fn poll_caught<F, T>(
    slot: &mut Option<Pin<Box<F>>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, FfiError>>
where
    F: Future<Output = Result<T, FfiError>>,
{
    let Some(fut) = slot.as_mut() else {
        return Poll::Ready(Err(FfiError::new(
            FfiErrorKind::FAILED,
            "collection polled after it finished",
        )));
    };
    match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(result)) => {
            *slot = None;
            Poll::Ready(result)
        }
        Err(payload) => {
            std::mem::forget(slot.take());
            Poll::Ready(Err(FfiError::new(
                FfiErrorKind::PANICKED,
                panic_message(payload),
            )))
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

/// Runs `fut`, a collection of cluster `cluster`, as a task of the library's runtime. The
/// result comes with the longest single poll of `fut`: a poll that long held one of the
/// library's threads. One longer than [`SLOW_POLL`] is logged when it ends, even when the
/// host has given up on the collection by then.
pub(crate) fn spawn<F, T>(handle: &Handle, cluster: Arc<str>, fut: F) -> Spawned<T>
where
    F: Future<Output = Result<T, FfiError>> + Send + 'static,
    T: Send + 'static,
{
    let task = handle.spawn(Timed {
        fut: Some(Box::pin(fut)),
        longest: Duration::ZERO,
        cluster,
    });
    Spawned { task }
}

/// A task started by [`spawn`]; dropping it cancels the task, whose future the runtime then
/// drops on its own thread, inside its context.
pub(crate) struct Spawned<T> {
    task: JoinHandle<(Result<T, FfiError>, Duration)>,
}

impl<T> Future for Spawned<T> {
    type Output = (Result<T, FfiError>, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(Pin::new(&mut self.task).poll(cx)) {
            Ok(output) => output,
            // Panics are caught inside the task and it is aborted only on drop; this is the
            // runtime shutting down.
            Err(e) => (
                Err(FfiError::new(
                    FfiErrorKind::FAILED,
                    format!("the collection's task ended: {e}"),
                )),
                Duration::ZERO,
            ),
        })
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The task's future: the connector's, its panics caught and its polls timed.
struct Timed<F> {
    fut: Option<Pin<Box<F>>>,
    longest: Duration,
    cluster: Arc<str>,
}

impl<F, T> Future for Timed<F>
where
    F: Future<Output = Result<T, FfiError>>,
{
    type Output = (Result<T, FfiError>, Duration);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `Timed` is Unpin (the inner future is boxed).
        let this = self.get_mut();
        let started = Instant::now();
        let polled = poll_caught(&mut this.fut, cx);
        let took = started.elapsed();
        if took > SLOW_POLL {
            tracing::warn!(
                cluster = %this.cluster,
                "a collection blocked the connector's thread for {} ms in one poll; connectors must await, not block (use spawn_blocking)",
                took.as_millis()
            );
        }
        this.longest = this.longest.max(took);
        polled.map(|result| (result, this.longest))
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
