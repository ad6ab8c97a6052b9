//! `isolation: process`: a cluster's connector runs in a `dbmon worker` child process. A
//! segfault, abort or stack overflow there kills only the worker; the host reports the cause,
//! restarts the worker with capped exponential backoff, and every other cluster goes on.

pub mod child;
mod connection;
mod exit;
mod protocol;

use crate::{plugins::CollectError, store::Collected};
use connection::Connection;
use dbmon_connector_api::ConfigError;
use dbmon_proto::worker as proto;
use proto::{worker_request::Kind as Ask, worker_response::Kind as Answer};
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// First wait before restarting a worker that died; it doubles with every death in a row.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How to start one cluster's worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// Cluster id, for logs.
    pub cluster: Arc<str>,
    /// The connector library.
    pub plugin: PathBuf,
    /// Its SHA-256 as the host checked it.
    pub sha256: String,
    /// `plugins.insecure`.
    pub insecure: bool,
    /// The cluster's configuration for the connector (holds secrets: never logged).
    pub config_json: String,
    /// The host's log filter, passed on.
    pub log_level: String,
}

/// The host's side of one cluster's worker.
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    spec: WorkerSpec,
    state: tokio::sync::Mutex<State>,
    restarts: AtomicU64,
}

#[derive(Default)]
struct State {
    connection: Option<Arc<Connection>>,
    deaths_in_a_row: u32,
    retry_at: Option<Instant>,
    restarting: bool,
    last_death: String,
}

impl Worker {
    /// Starts the worker and hands it the configuration; a refusal comes back as (path,
    /// message), like an in-process connector's.
    pub async fn start(spec: WorkerSpec) -> Result<Worker, ConfigError> {
        let connection = Connection::start(&spec).await.map_err(ConfigError::new)?;
        init(&connection, &spec).await?;
        let state = State {
            connection: Some(Arc::new(connection)),
            ..State::default()
        };
        let inner = Inner {
            spec,
            state: tokio::sync::Mutex::new(state),
            restarts: AtomicU64::new(0),
        };
        Ok(Worker {
            inner: Arc::new(inner),
        })
    }

    /// Times the worker was restarted after dying.
    pub fn restarts(&self) -> u64 {
        self.inner.restarts.load(Ordering::Relaxed)
    }

    /// One collection in the worker.
    pub async fn collect(
        &self,
        sequence: u64,
        timeout: Duration,
    ) -> Result<Collected, CollectError> {
        let ask = Ask::Collect(proto::WorkerCollect {
            sequence,
            timeout_ms: timeout.as_millis() as u64,
        });
        match self.call(ask).await.map_err(CollectError::Failed)? {
            Answer::Report(report) => {
                self.inner.state.lock().await.deaths_in_a_row = 0;
                protocol::from_wire(report).map_err(CollectError::Failed)
            }
            Answer::Failed(e) => Err(protocol::error_from_wire(e)),
            Answer::Error(e) => Err(CollectError::Failed(e)),
            other => Err(CollectError::Failed(format!(
                "the worker answered a collection with {other:?}"
            ))),
        }
    }

    /// One command in the worker.
    pub async fn run_command(
        &self,
        name: &str,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<String, CollectError> {
        let ask = Ask::Command(proto::WorkerCommand {
            name: name.into(),
            args,
            timeout_ms: timeout.as_millis() as u64,
        });
        match self.call(ask).await.map_err(CollectError::Failed)? {
            Answer::Output(out) => Ok(out),
            Answer::Failed(e) => Err(protocol::error_from_wire(e)),
            Answer::Error(e) => Err(CollectError::Failed(e)),
            other => Err(CollectError::Failed(format!(
                "the worker answered a command with {other:?}"
            ))),
        }
    }

    async fn call(&self, ask: Ask) -> Result<Answer, String> {
        let connection = self.connection().await?;
        connection.call(ask).await
    }

    /// The live connection. A dead worker is restarted in the background once its backoff has
    /// passed, so that a slow start never eats a collection's timeout; until then every call
    /// says why the worker is down.
    async fn connection(&self) -> Result<Arc<Connection>, String> {
        let inner = &self.inner;
        let mut state = inner.state.lock().await;
        if let Some(connection) = state.connection.clone() {
            match connection.death() {
                None => return Ok(connection),
                Some(cause) => {
                    state.deaths_in_a_row += 1;
                    let wait = backoff(state.deaths_in_a_row);
                    tracing::warn!(cluster = %inner.spec.cluster, "connector worker {cause}; restarting it in {}", humantime::format_duration(wait));
                    state.retry_at = Some(Instant::now() + wait);
                    state.last_death = format!("connector worker {cause}");
                    state.connection = None;
                }
            }
        }
        let now = Instant::now();
        match state.retry_at {
            Some(at) if at > now => {
                let left = at.saturating_duration_since(now).as_secs_f64().ceil();
                return Err(format!("{}; restarting it in {left} s", state.last_death));
            }
            _ if !state.restarting => {
                state.restarting = true;
                tokio::spawn(restart(Arc::clone(inner)));
            }
            _ => {}
        }
        Err(format!("{}; restarting it now", state.last_death))
    }
}

/// Starts a new worker for a dead one; a failed start counts as another death.
async fn restart(inner: Arc<Inner>) {
    let started = match Connection::start(&inner.spec).await {
        Ok(connection) => match init(&connection, &inner.spec).await {
            Ok(()) => Ok(connection),
            Err(e) => Err(format!(
                "refused the configuration on restart: {}",
                e.message
            )),
        },
        Err(e) => Err(e),
    };
    let mut state = inner.state.lock().await;
    state.restarting = false;
    match started {
        Ok(connection) => {
            inner.restarts.fetch_add(1, Ordering::Relaxed);
            tracing::info!(cluster = %inner.spec.cluster, "connector worker restarted");
            state.connection = Some(Arc::new(connection));
            state.retry_at = None;
        }
        Err(e) => {
            state.deaths_in_a_row += 1;
            let wait = backoff(state.deaths_in_a_row);
            tracing::warn!(cluster = %inner.spec.cluster, "connector worker did not restart: {e}; next try in {}", humantime::format_duration(wait));
            state.retry_at = Some(Instant::now() + wait);
            state.last_death = format!("connector worker {e}");
        }
    }
}

async fn init(connection: &Connection, spec: &WorkerSpec) -> Result<(), ConfigError> {
    match connection
        .call(Ask::InitConfigJson(spec.config_json.clone()))
        .await
    {
        Ok(Answer::Ready(_)) => Ok(()),
        Ok(Answer::Refused(r)) => Err(ConfigError::at(r.path, r.message)),
        Ok(other) => Err(ConfigError::new(format!(
            "the worker answered init with {other:?}"
        ))),
        Err(e) => Err(ConfigError::new(e)),
    }
}

/// 1 s, 2 s, 4 s, ... up to a minute.
fn backoff(deaths: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << deaths.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1000), Duration::from_secs(60));
    }
}
