//! Where a cluster's connector runs: in the host's process (through the stable ABI) or in a
//! worker child process. Agents and commands call it the same way.

use crate::{
    isolation::Worker,
    plugins::{CollectError, Instance, convert},
    store::Outcome,
};
use dbmon_connector_api::ffi::FfiCollectRequest;
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

/// A poll that holds a host thread longer than this is logged: the connector is blocking.
const SLOW_POLL: Duration = Duration::from_millis(50);

/// One cluster's connector, wherever it runs.
pub enum Runner {
    /// The connector's instance in this process.
    InProcess(Instance),
    /// A worker process running the connector.
    Isolated(Worker),
}

impl Runner {
    /// One collection, abandoned after `timeout`.
    pub async fn collect(&self, cluster: &str, sequence: u64, timeout: Duration) -> Outcome {
        let request = FfiCollectRequest {
            sequence,
            timeout_ms: timeout.as_millis() as u64,
        };
        let result = match self {
            Runner::InProcess(instance) => {
                let started = Instant::now();
                let watched = BlockWatch {
                    inner: instance.collect(request),
                    cluster,
                };
                // Dropping the future at the timeout cancels the collection inside the connector.
                let Ok(result) = tokio::time::timeout(timeout, watched).await else {
                    return Outcome::TimedOut(timeout);
                };
                // A connector that blocked its thread past the deadline kept the timer from
                // firing; its late answer is still a timeout.
                if started.elapsed() > timeout {
                    return Outcome::TimedOut(timeout);
                }
                result.and_then(|report| convert::collected(&report).map_err(CollectError::Failed))
            }
            Runner::Isolated(worker) => {
                match tokio::time::timeout(timeout, worker.collect(sequence, timeout)).await {
                    Ok(result) => result,
                    Err(_) => return Outcome::TimedOut(timeout),
                }
            }
        };
        match result {
            Ok(collected) => Outcome::Collected(collected),
            Err(CollectError::Panicked(e)) => Outcome::Panicked(e),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Runs a connector command, abandoned after `timeout`.
    pub async fn run_command(
        &self,
        name: &str,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<String, CollectError> {
        let request = FfiCollectRequest {
            sequence: 0,
            timeout_ms: timeout.as_millis() as u64,
        };
        let call = async {
            match self {
                Runner::InProcess(instance) => instance.run_command(name, args, request).await,
                Runner::Isolated(worker) => worker.run_command(name, args, timeout).await,
            }
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| Err(CollectError::timeout("the command", timeout)))
    }

    /// `in_process` or `process`.
    pub fn isolation(&self) -> &'static str {
        match self {
            Runner::InProcess(_) => "in_process",
            Runner::Isolated(_) => "process",
        }
    }

    /// Times the worker was restarted (0 in process).
    pub fn restarts(&self) -> u64 {
        match self {
            Runner::InProcess(_) => 0,
            Runner::Isolated(worker) => worker.restarts(),
        }
    }
}

/// Logs polls that hold the host's thread too long: a connector that blocks instead of
/// awaiting. Costs two clock reads per poll.
struct BlockWatch<'a, F> {
    inner: F,
    cluster: &'a str,
}

impl<F: Future + Unpin> Future for BlockWatch<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let result = Pin::new(&mut self.inner).poll(cx);
        let held = start.elapsed();
        if held > SLOW_POLL {
            tracing::warn!(
                cluster = self.cluster,
                "connector blocked a host thread for {} ms; connectors must await, not block (use spawn_blocking)",
                held.as_millis()
            );
        }
        result
    }
}
