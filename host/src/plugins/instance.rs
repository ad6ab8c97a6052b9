//! One cluster's live connector, whichever contract its library was built against, and the
//! host's one error type for what a call into it can end in.

use super::v1;
use abi_stable::std_types::{RResult, RString, RVec};
use dbmon_connector_api::ffi::{FfiCollectRequest, FfiError, FfiErrorKind, FfiReport, InstanceBox};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

/// How a collection or a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectError {
    /// The connector tried and could not.
    Failed(String),
    /// The connector panicked (caught inside the library).
    Panicked(String),
    /// The call did not finish in time (the host's timeout or the connector's own).
    TimedOut(String),
    /// The connector does not offer what was asked.
    Unsupported(String),
    /// The call's input was wrong (a command's arguments).
    BadInput(String),
}

impl CollectError {
    /// The error a connector returned over the ABI.
    pub fn from_ffi(e: FfiError) -> CollectError {
        let message = e.message.into_string();
        match e.kind {
            FfiErrorKind::PANICKED => CollectError::Panicked(message),
            FfiErrorKind::TIMEOUT => CollectError::TimedOut(message),
            FfiErrorKind::UNSUPPORTED => CollectError::Unsupported(message),
            FfiErrorKind::CONFIG => CollectError::BadInput(message),
            _ => CollectError::Failed(message),
        }
    }

    /// The host gave up after `timeout`.
    pub fn timeout(what: &str, timeout: Duration) -> CollectError {
        CollectError::TimedOut(format!(
            "{what} did not finish within {}",
            humantime::format_duration(timeout)
        ))
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            CollectError::Failed(m)
            | CollectError::Panicked(m)
            | CollectError::TimedOut(m)
            | CollectError::Unsupported(m)
            | CollectError::BadInput(m) => m,
        }
    }
}

impl std::fmt::Display for CollectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// A live connector instance.
pub enum Instance {
    /// Built against this host's ABI.
    Current(InstanceBox),
    /// Built against contract 1 (any connector-api 1.x), through the adapter.
    V1(v1::Instance),
}

impl Instance {
    /// Starts a collection; polled inside the library's runtime, dropped to cancel it.
    pub fn collect(&self, request: FfiCollectRequest) -> Collecting {
        match self {
            Instance::Current(instance) => Collecting::Current(instance.collect(request)),
            Instance::V1(instance) => Collecting::V1(instance.collect(request)),
        }
    }

    /// Runs a command.
    pub async fn run_command(
        &self,
        name: &str,
        args: Vec<String>,
        request: FfiCollectRequest,
    ) -> Result<String, CollectError> {
        let args: RVec<RString> = args.into_iter().map(RString::from).collect();
        match self {
            Instance::Current(instance) => {
                match instance.run_command(name.into(), args, request).await {
                    RResult::ROk(out) => Ok(out.into_string()),
                    RResult::RErr(e) => Err(CollectError::from_ffi(e)),
                }
            }
            Instance::V1(instance) => instance.run_command(name, args, request).await,
        }
    }
}

/// A collection in flight.
pub enum Collecting {
    /// Of a current connector.
    Current(async_ffi::FfiFuture<RResult<FfiReport, FfiError>>),
    /// Of a contract-1 connector.
    V1(v1::Collecting),
}

impl Future for Collecting {
    type Output = Result<FfiReport, CollectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Collecting::Current(fut) => Pin::new(fut).poll(cx).map(|r| match r {
                RResult::ROk(report) => Ok(report),
                RResult::RErr(e) => Err(CollectError::from_ffi(e)),
            }),
            Collecting::V1(fut) => Pin::new(fut).poll(cx),
        }
    }
}
