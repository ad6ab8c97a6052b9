//! The collector's side: its agents record into its own store as an all-in-one host's do; the
//! forwarder turns each new report into a pushed message in the [`Buffer`]; one session at a
//! time sends the buffer to the server over `Push` and forgets what the server acknowledges.
//! A broken session is opened again with capped exponential backoff and full jitter, and
//! everything unacknowledged is sent again (the server stores a resent report once).

use super::buffer::{Buffer, Entry};
use crate::{
    api,
    security::client::{ClientSecurity, connect},
    store::{Next, Store},
};
use dbmon_proto::{codec::PreEncoded, ingest};
use std::{
    collections::{BTreeSet, HashMap},
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};
use tokio::sync::{broadcast::error::RecvError, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{codegen::http::uri::PathAndQuery, service::interceptor::InterceptedService};

/// The first wait after a session failed; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Encoded messages handed to the connection and not yet written by it.
const SEND_QUEUE: usize = 16;
/// How long a stopping collector goes on pushing what it holds.
const DRAIN: Duration = Duration::from_secs(5);
/// How often a draining session looks whether the server acknowledged everything.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// Largest message the server may send (commands' answers go the other way).
const MAX_SERVER_MESSAGE: usize = 4 << 20;
const PUSH: &str = "/dbmon.ingest.v1.Ingest/Push";

/// Where and as whom a collector pushes.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The servers' URLs (`https://server:4000`), in the order tried: a collector pushes to
    /// one, and goes on to the next when it fails.
    pub urls: Vec<String>,
    /// How the collector proves who it is.
    pub security: ClientSecurity,
    /// The collector's id.
    pub collector_id: Arc<str>,
    /// Bytes of unacknowledged reports kept at most.
    pub buffer_bytes: usize,
}

/// A collector: its local store, its clusters' connectors, and the server it pushes to.
pub struct Collector {
    /// Where and as whom it pushes.
    pub upstream: Upstream,
    /// Its agents' reports.
    pub store: Arc<Store>,
    /// The loaded connectors and each cluster's runner, for commands and counters.
    pub live: Arc<crate::live::Live>,
    /// The clusters it collects now, when it shares its clusters with other collectors
    /// (`None`: every cluster of its store).
    pub share: Option<watch::Receiver<Share>>,
    /// Whether the share comes from a coordinator (it may then take clusters over from
    /// other collectors); otherwise it is the file's clusters.
    pub coordinated: bool,
    /// How its share stands, for the server (with `share`).
    pub share_status: Option<watch::Receiver<ingest::ShareStatus>>,
    /// The runtime its agents and connectors run on, where commands run too.
    pub agents_runtime: tokio::runtime::Handle,
}

/// The clusters a collector collects now.
pub type Share = Arc<std::collections::BTreeSet<Arc<str>>>;

impl Collector {
    /// Pushes until `stopped` turns true, on a thread of its own: the push (the forwarder's
    /// conversions, the HTTP/2 connection and its flow control) must not wait behind agents
    /// whose connectors keep the host's workers busy, or the stream stalls while the buffer
    /// fills and drops reports (BENCHMARKS.md §11). Returns when the thread has ended.
    pub async fn run_apart(self, stopped: watch::Receiver<bool>) {
        let (done, finished) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("dbmon-push".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the push");
                runtime.block_on(self.run(stopped));
                let _ = done.send(());
            });
        match thread {
            Ok(_) => {
                let _ = finished.await;
            }
            Err(e) => tracing::error!("cannot start the push thread: {e}"),
        }
    }

    /// Pushes until `stopped` turns true.
    pub async fn run(self, mut stopped: watch::Receiver<bool>) {
        let collector = Arc::new(self);
        let incarnation = incarnation();
        let buffer = Arc::new(Buffer::new(collector.upstream.buffer_bytes));
        let dropped = Arc::new(AtomicU64::new(0));
        // The forwarder outlives the agents' stop, so that their last reports are pushed too.
        let forwarder = tokio::spawn(forward(
            Arc::clone(&collector),
            Arc::clone(&buffer),
            Arc::clone(&dropped),
        ));
        let _forwarder = AbortOnDrop(forwarder);
        let urls = &collector.upstream.urls;
        // Failed attempts in a row; every server is tried once before the collector waits.
        let mut failures = 0u32;
        let mut next = 0;
        loop {
            let url = &urls[next % urls.len()];
            let ended = collector
                .session(url, incarnation, &buffer, stopped.clone())
                .await;
            match ended {
                Ended::Stopped => return,
                Ended::AfterWelcome(why) => {
                    failures = 1;
                    tracing::warn!(
                        "the session with {url} ended: {why}; {} reports wait to be sent again",
                        buffer.held().reports
                    );
                }
                Ended::BeforeWelcome(why) => {
                    failures = failures.saturating_add(1);
                    // The first failure of each server in a row is worth a warning; the others
                    // only while debugging, so a long outage does not flood the log.
                    if failures as usize <= urls.len() {
                        tracing::warn!("cannot push to {url}: {why}; retrying");
                    } else {
                        tracing::debug!("cannot push to {url}: {why}");
                    }
                }
            }
            next += 1;
            // The next server at once, unless every one failed in this round.
            let rounds = failures / urls.len() as u32;
            if rounds > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(backoff(rounds)) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// One session: Hello, Welcome, then the buffer's reports out and acknowledgements and
    /// commands in, until either side ends it.
    async fn session(
        self: &Arc<Self>,
        url: &str,
        incarnation: u64,
        buffer: &Arc<Buffer>,
        stopped: watch::Receiver<bool>,
    ) -> Ended {
        let upstream = &self.upstream;
        let mut stopped = stopped;
        if *stopped.borrow() {
            return Ended::Stopped;
        }
        // The Hello lists the share as it is now; every change after it is sent before any
        // report of a cluster it adds (the loop below looks at the share first).
        let mut share = self.share.clone();
        let announced = share.as_mut().map(|s| Arc::clone(&s.borrow_and_update()));
        let connecting = async {
            let (channel, interceptor) = connect(url, &upstream.security).await?;
            self.open(channel, interceptor, incarnation, announced.as_deref())
                .await
        };
        let (send, incoming, welcome) = tokio::select! {
            opened = connecting => match opened {
                Ok(opened) => opened,
                Err(why) => return Ended::BeforeWelcome(why),
            },
            _ = stopped.wait_for(|s| *s) => return Ended::Stopped,
        };
        buffer.restart(&welcome.stored);
        tracing::info!(
            "pushing to {url} as collector '{}': {} reports to send",
            upstream.collector_id,
            buffer.held().reports
        );
        // The share's status at once, then each change.
        let mut share_status = self.share_status.clone();
        if let Some(status) = &mut share_status {
            status.mark_changed();
        }
        // Reading apart from writing: a server that waits for the collector to read its
        // acknowledgements must not stall the reports, nor the reverse.
        let reader =
            tokio::spawn(Arc::clone(self).read(incoming, Arc::clone(buffer), send.clone()));
        // After a stop, what is buffered still goes, for a while.
        let mut drain_until: Option<Instant> = None;
        let ended = loop {
            if let Some(deadline) = drain_until {
                let left = buffer.held().reports;
                if left == 0 {
                    break Ended::Stopped;
                }
                if Instant::now() >= deadline {
                    tracing::warn!(
                        "stopping with {left} reports the server has not acknowledged; they are lost"
                    );
                    break Ended::Stopped;
                }
            }
            let bytes = tokio::select! {
                biased;
                Ok(()) = changed(&mut share) => {
                    let now = share.as_mut().map(|s| Arc::clone(&s.borrow_and_update()));
                    self.cluster_set(now.as_deref())
                }
                // Before the reports: a busy buffer must not starve the status.
                Ok(()) = changed(&mut share_status) => {
                    let status = share_status.as_ref().expect("changed").borrow().clone();
                    encode(ingest::collector_message::Message::Share(status))
                }
                entry = buffer.next() => entry.bytes,
                _ = stopped.wait_for(|s| *s), if drain_until.is_none() => {
                    drain_until = Some(Instant::now() + DRAIN);
                    continue;
                }
                _ = tokio::time::sleep(DRAIN_POLL), if drain_until.is_some() => continue,
            };
            if send.send(bytes).await.is_err() {
                break Ended::AfterWelcome("the connection closed".into());
            }
            if reader.is_finished() {
                break Ended::AfterWelcome("the server ended the session".into());
            }
        };
        match ended {
            Ended::AfterWelcome(_) if reader.is_finished() => {
                let why = reader.await.unwrap_or_else(|e| e.to_string());
                Ended::AfterWelcome(why)
            }
            other => {
                reader.abort();
                other
            }
        }
    }

    /// Opens the Push stream on `channel`: sends the Hello, waits for the Welcome.
    async fn open(
        &self,
        channel: tonic::transport::Channel,
        interceptor: crate::security::client::BearerInterceptor,
        incarnation: u64,
        share: Option<&BTreeSet<Arc<str>>>,
    ) -> Result<
        (
            mpsc::Sender<Arc<[u8]>>,
            tonic::Streaming<ingest::ServerMessage>,
            ingest::Welcome,
        ),
        String,
    > {
        let describe = crate::security::client::describe_status;
        let mut grpc = tonic::client::Grpc::new(InterceptedService::new(channel, interceptor))
            .max_decoding_message_size(MAX_SERVER_MESSAGE);
        grpc.ready().await.map_err(|e| format!("not ready: {e}"))?;
        let (send, outgoing) = mpsc::channel::<Arc<[u8]>>(SEND_QUEUE);
        let _ = send.try_send(self.hello(incarnation, share));
        let codec = PreEncoded::<ingest::ServerMessage, Arc<[u8]>>::default();
        let request = tonic::Request::new(ReceiverStream::new(outgoing));
        let path = PathAndQuery::from_static(PUSH);
        let mut incoming = grpc
            .streaming(request, path, codec)
            .await
            .map_err(|s| describe(&s))?
            .into_inner();
        match incoming.message().await.map_err(|s| describe(&s))? {
            Some(ingest::ServerMessage {
                message: Some(ingest::server_message::Message::Welcome(welcome)),
            }) => Ok((send, incoming, welcome)),
            _ => Err("the server did not welcome the Hello".into()),
        }
    }

    /// Acknowledgements and commands from the server, until the stream ends; returns why.
    async fn read(
        self: Arc<Self>,
        mut incoming: tonic::Streaming<ingest::ServerMessage>,
        buffer: Arc<Buffer>,
        send: mpsc::Sender<Arc<[u8]>>,
    ) -> String {
        loop {
            let message = match incoming.message().await {
                Ok(Some(message)) => message,
                Ok(None) => return "the server closed the stream".into(),
                Err(status) => return crate::security::client::describe_status(&status),
            };
            use ingest::server_message::Message;
            match message.message {
                Some(Message::Ack(ack)) => buffer.ack(&ack.cluster_id, ack.sequence),
                Some(Message::Command(command)) => {
                    let collector = Arc::clone(&self);
                    let send = send.clone();
                    // On the agents' runtime, where connectors run (this session's runtime is
                    // the push's own).
                    self.agents_runtime.spawn(async move {
                        let result = collector.run_command(command).await;
                        let _ = send.send(result).await;
                    });
                }
                Some(Message::Welcome(_)) | None => {}
            }
        }
    }

    /// Runs a command a client sent through the server; the answer, encoded.
    async fn run_command(&self, command: ingest::Command) -> Arc<[u8]> {
        let timeout = command
            .timeout
            .and_then(|t| Duration::try_from(t).ok())
            .unwrap_or(Duration::from_secs(5));
        let result = match (
            self.live.runner(&command.cluster_id),
            self.store.cluster(&command.cluster_id),
        ) {
            (Some(runner), Some(slot)) => {
                api::command::run(
                    &self.live.registry(),
                    &runner,
                    &slot.info.connector,
                    &command.cluster_id,
                    &command.command,
                    command.args,
                    timeout,
                )
                .await
            }
            _ => Err(tonic::Status::not_found(format!(
                "collector '{}' does not collect cluster '{}'",
                self.upstream.collector_id, command.cluster_id
            ))),
        };
        use ingest::command_result::Result as Answer;
        let result = match result {
            Ok(output) => Answer::Output(output),
            Err(status) => Answer::Error(ingest::CommandError {
                code: status.code() as i32,
                message: status.message().to_string(),
            }),
        };
        encode(ingest::collector_message::Message::CommandResult(
            ingest::CommandResult {
                id: command.id,
                result: Some(result),
            },
        ))
    }

    fn hello(&self, incarnation: u64, share: Option<&BTreeSet<Arc<str>>>) -> Arc<[u8]> {
        let connectors = self
            .live
            .registry()
            .iter()
            .map(|p| api::convert::connector(p))
            .collect();
        encode(ingest::collector_message::Message::Hello(ingest::Hello {
            collector_id: self.upstream.collector_id.to_string(),
            incarnation,
            clusters: self.clusters(share),
            connectors,
            version: env!("CARGO_PKG_VERSION").to_string(),
            coordinated: self.coordinated,
        }))
    }

    /// The clusters of `share`, for the server.
    fn cluster_set(&self, share: Option<&BTreeSet<Arc<str>>>) -> Arc<[u8]> {
        encode(ingest::collector_message::Message::Clusters(
            ingest::ClusterSet {
                clusters: self.clusters(share),
            },
        ))
    }

    /// The clusters of `share`, or every cluster of its store.
    fn clusters(&self, share: Option<&BTreeSet<Arc<str>>>) -> Vec<ingest::CollectedCluster> {
        self.store
            .clusters()
            .iter()
            .filter(|slot| share.is_none_or(|s| s.contains(&slot.info.id)))
            .map(|slot| {
                let info = &slot.info;
                ingest::CollectedCluster {
                    id: info.id.to_string(),
                    connector: info.connector.to_string(),
                    endpoints: info.endpoints.clone(),
                    interval: Some(api::convert::duration(info.interval)),
                    timeout: Some(api::convert::duration(info.timeout)),
                    isolation: self
                        .live
                        .runner(&info.id)
                        .map_or("", |r| r.isolation())
                        .to_string(),
                }
            })
            .collect()
    }
}

/// When the value changes; never without a receiver.
async fn changed<T>(value: &mut Option<watch::Receiver<T>>) -> Result<(), watch::error::RecvError> {
    match value {
        Some(value) => value.changed().await,
        None => std::future::pending().await,
    }
}

/// How a session ended.
enum Ended {
    /// The collector is stopping.
    Stopped,
    /// It never got going: no connection, refused, or no Welcome.
    BeforeWelcome(String),
    /// It ran, then broke.
    AfterWelcome(String),
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Turns every new report of the store into a buffered message, in order per cluster, until
/// aborted.
async fn forward(collector: Arc<Collector>, buffer: Arc<Buffer>, dropped: Arc<AtomicU64>) {
    let store = &collector.store;
    let mut notices = store.subscribe();
    let mut forwarded: HashMap<Arc<str>, u64> = HashMap::new();
    loop {
        let cluster = match notices.recv().await {
            Ok(notice) => Some(notice.cluster),
            // Fell behind the feed: look at every cluster.
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return,
        };
        let slots = match cluster {
            Some(id) => store.cluster(&id).into_iter().collect(),
            None => store.clusters(),
        };
        for slot in slots {
            let after = forwarded.entry(Arc::clone(&slot.info.id)).or_default();
            loop {
                match slot.next_after(*after) {
                    Next::Report(report) => {
                        *after = report.sequence;
                        let entry = collector.entry(&report, &buffer);
                        let gone = buffer.push(entry);
                        if gone > 0 {
                            let total = dropped.fetch_add(gone, Ordering::Relaxed) + gone;
                            tracing::warn!(
                                "the push buffer is full ({} bytes): dropped the {gone} oldest \
                                 unacknowledged reports ({total} since the start)",
                                collector.upstream.buffer_bytes
                            );
                        }
                    }
                    Next::UpToDate => break,
                    Next::Gone { missed } => {
                        tracing::warn!(
                            cluster = %slot.info.id,
                            "reports {}..{} left the local history before they were forwarded",
                            missed.start,
                            missed.end
                        );
                        *after = missed.end - 1;
                    }
                }
            }
        }
    }
}

impl Collector {
    fn entry(&self, report: &crate::store::Report, buffer: &Buffer) -> Entry {
        let stats = self.store.cluster(&report.cluster).map(|slot| {
            let s = &slot.stats;
            ingest::AgentStats {
                collections: s.collections.load(Ordering::Relaxed),
                failures: s.failures.load(Ordering::Relaxed),
                timeouts: s.timeouts.load(Ordering::Relaxed),
                panics: s.panics.load(Ordering::Relaxed),
                worker_restarts: self
                    .live
                    .runner(&report.cluster)
                    .map_or(0, |r| r.restarts()),
            }
        });
        let held = buffer.held();
        let bytes = encode(ingest::collector_message::Message::Report(
            ingest::PushedReport {
                sequence: report.sequence,
                report: Some(api::convert::report(report)),
                stats,
                buffered_reports: held.reports as u64 + 1,
                dropped_reports: held.dropped,
            },
        ));
        Entry {
            cluster: Arc::clone(&report.cluster),
            sequence: report.sequence,
            bytes,
        }
    }
}

fn encode(message: ingest::collector_message::Message) -> Arc<[u8]> {
    let message = ingest::CollectorMessage {
        message: Some(message),
    };
    prost::Message::encode_to_vec(&message).into()
}

/// The wait before attempt `failures + 1`: full jitter over a doubling bound, capped, so that
/// many collectors cut off together do not come back together.
fn backoff(failures: u32) -> Duration {
    let bound = FIRST_BACKOFF
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let random = RandomState::new().hash_one(failures);
    bound.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
}

/// A number no earlier run of this collector had: its start time and randomness.
fn incarnation() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    nanos ^ (RandomState::new().hash_one(nanos) & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_below_the_bound() {
        for failures in 1..40 {
            let bound = FIRST_BACKOFF
                .saturating_mul(1 << (failures - 1).min(16))
                .min(MAX_BACKOFF);
            for _ in 0..20 {
                assert!(backoff(failures) <= bound);
            }
        }
        let waits: Vec<Duration> = (0..50).map(|_| backoff(10)).collect();
        assert!(waits.iter().any(|w| *w != waits[0]), "jittered");
        assert!(waits.iter().all(|w| *w <= MAX_BACKOFF));
    }
}
