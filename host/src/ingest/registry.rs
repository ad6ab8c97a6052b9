//! Who collects which remote cluster: every collector that opened a session since the server
//! started, its current session (through which commands reach it), and what it last said.
//! The client API reads it for `ListCollectors`, `ListClusters` and commands.

use crate::names::quote;
use dbmon_proto::{self as proto, ingest};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// What a session sends its collector: acknowledgements, commands, or the status that ends it.
pub type Outbox = mpsc::Sender<Result<ingest::ServerMessage, Status>>;

/// Every collector that pushed to this server since it started.
#[derive(Debug)]
pub struct Collectors {
    state: Mutex<State>,
    /// Clusters this process collects itself: no collector may take them.
    local: std::sync::RwLock<HashSet<Arc<str>>>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    collectors: BTreeMap<Arc<str>, Entry>,
    /// Which collector collects each remote cluster.
    owners: HashMap<Arc<str>, Owner>,
}

/// A remote cluster's collector, and what it last said about it.
#[derive(Debug, Clone)]
struct Owner {
    collector: Arc<str>,
    isolation: String,
    last_push: Option<SystemTime>,
    stats: ingest::AgentStats,
}

#[derive(Debug)]
struct Entry {
    session: Option<Session>,
    address: Option<SocketAddr>,
    connected_since: SystemTime,
    disconnected_at: Option<SystemTime>,
    last_push: Option<SystemTime>,
    clusters: Vec<Arc<str>>,
    connectors: Vec<proto::Connector>,
    identity: String,
    buffered: u64,
    dropped: u64,
    stored: u64,
    duplicates: u64,
    coordinated: bool,
    share: Option<ingest::ShareStatus>,
}

#[derive(Debug)]
struct Session {
    number: u64,
    outbox: Outbox,
    /// Commands sent and not answered yet, by id.
    pending: HashMap<u64, oneshot::Sender<Result<String, Status>>>,
    /// Dropped when a newer session of the same collector replaces this one: its task ends.
    _replaced: oneshot::Sender<()>,
}

/// What the client API shows of a remote cluster.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its collector.
    pub collector: Arc<str>,
    /// Whether that collector is connected now.
    pub connected: bool,
    /// When the collector's session ended, while it is away.
    pub disconnected_at: Option<SystemTime>,
    /// When it last pushed a report of this cluster.
    pub last_push: Option<SystemTime>,
    /// How its connector runs there.
    pub isolation: String,
    /// Its agent's counters there.
    pub stats: ingest::AgentStats,
}

impl Collectors {
    /// No collector yet; `local` are the clusters this process collects.
    pub fn new(local: impl IntoIterator<Item = Arc<str>>) -> Collectors {
        Collectors {
            state: Mutex::default(),
            local: std::sync::RwLock::new(local.into_iter().collect()),
            next_id: AtomicU64::new(1),
        }
    }

    /// The clusters this process collects itself from now on (a reload changed them).
    pub fn set_local(&self, local: impl IntoIterator<Item = Arc<str>>) {
        *self.local.write().unwrap_or_else(|p| p.into_inner()) = local.into_iter().collect();
    }

    /// The collector of `cluster`, when a collector collects it.
    pub fn remote(&self, cluster: &str) -> Option<Remote> {
        let state = self.lock();
        let owner = state.owners.get(cluster)?;
        let entry = state.collectors.get(&owner.collector)?;
        Some(Remote {
            collector: Arc::clone(&owner.collector),
            connected: entry.session.is_some(),
            disconnected_at: entry.disconnected_at,
            last_push: owner.last_push,
            isolation: owner.isolation.clone(),
            stats: owner.stats,
        })
    }

    /// Every collector, by id.
    pub fn list(&self) -> Vec<proto::Collector> {
        let state = self.lock();
        let time = |t: Option<SystemTime>| t.map(prost_types::Timestamp::from);
        state
            .collectors
            .iter()
            .map(|(id, e)| proto::Collector {
                id: id.to_string(),
                address: match (&e.session, e.address) {
                    (Some(_), Some(address)) => address.to_string(),
                    _ => String::new(),
                },
                connected: e.session.is_some(),
                connected_since: time(Some(e.connected_since)),
                last_push: time(e.last_push),
                clusters: e.clusters.iter().map(|c| c.to_string()).collect(),
                buffered_reports: e.buffered,
                dropped_reports: e.dropped,
                reports_stored: e.stored,
                duplicates: e.duplicates,
                disconnected_at: time(e.disconnected_at),
                identity: e.identity.clone(),
                coordinated: e.coordinated,
                weight: e.share.as_ref().map_or(0, |s| s.weight),
                members: e.share.as_ref().map_or(0, |s| s.members),
                assigned: e.share.as_ref().map_or(0, |s| s.assigned),
                moves_last_hour: e.share.as_ref().map_or(0, |s| s.moves_last_hour),
                overlaps: e.share.as_ref().map_or(0, |s| s.overlaps),
                why_nothing: e
                    .share
                    .as_ref()
                    .map_or(String::new(), |s| s.why_nothing.clone()),
            })
            .collect()
    }

    /// The connectors connected collectors loaded, each name once.
    pub fn connectors(&self) -> Vec<proto::Connector> {
        let state = self.lock();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for entry in state.collectors.values().filter(|e| e.session.is_some()) {
            for c in &entry.connectors {
                if seen.insert((c.name.clone(), c.sha256.clone())) {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    /// Runs a command on the collector of `cluster`: None when no collector collects it,
    /// UNAVAILABLE (naming the collector) when its collector is away.
    pub async fn run_command(
        &self,
        cluster: &str,
        command: &str,
        args: Vec<String>,
        timeout: Duration,
    ) -> Option<Result<String, Status>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        let outbox = {
            let mut state = self.lock();
            let collector = Arc::clone(&state.owners.get(cluster)?.collector);
            let entry = state.collectors.get_mut(&collector)?;
            let Some(session) = &mut entry.session else {
                let since = entry.disconnected_at.map_or(String::new(), |t| {
                    format!(
                        " (disconnected {} ago)",
                        humantime::format_duration(whole_seconds(t))
                    )
                });
                return Some(Err(Status::unavailable(format!(
                    "cluster {} is collected by collector {}, which is not connected{since}",
                    quote(cluster),
                    quote(&collector)
                ))));
            };
            session.pending.insert(id, answer);
            session.outbox.clone()
        };
        let message = ingest::ServerMessage {
            message: Some(ingest::server_message::Message::Command(ingest::Command {
                id,
                cluster_id: cluster.to_string(),
                command: command.to_string(),
                args,
                timeout: prost_types::Duration::try_from(timeout).ok(),
            })),
        };
        let gone = || {
            Status::unavailable(format!(
                "the collector of cluster {} went away before it answered",
                quote(cluster)
            ))
        };
        if outbox.send(Ok(message)).await.is_err() {
            return Some(Err(gone()));
        }
        // The collector applies the timeout; a little more here covers the trip.
        let waited = tokio::time::timeout(timeout + Duration::from_secs(5), answered).await;
        Some(match waited {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(gone()),
            Err(_) => {
                self.forget_command(cluster, id);
                Err(Status::deadline_exceeded(format!(
                    "{command} on {cluster}: the collector did not answer within {}",
                    humantime::format_duration(timeout)
                )))
            }
        })
    }

    fn forget_command(&self, cluster: &str, id: u64) {
        let mut state = self.lock();
        let Some(collector) = state.owners.get(cluster).map(|o| Arc::clone(&o.collector)) else {
            return;
        };
        if let Some(session) = state
            .collectors
            .get_mut(&collector)
            .and_then(|e| e.session.as_mut())
        {
            session.pending.remove(&id);
        }
    }

    /// Opens a session for `hello`: refused when a cluster is collected here or by another
    /// connected collector. Returns the session's number and the signal of its replacement.
    pub(super) fn open(
        &self,
        hello: &ingest::Hello,
        address: Option<SocketAddr>,
        identity: String,
        outbox: Outbox,
    ) -> Result<(u64, oneshot::Receiver<()>), Status> {
        let id: Arc<str> = hello.collector_id.as_str().into();
        let mut state = self.lock();
        self.check_claims(&state, &id, &hello.clusters, hello.coordinated)?;
        let number = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (replaced_tx, replaced) = oneshot::channel();
        let clusters = claim(&mut state, &id, &hello.clusters);
        let entry = Entry {
            session: Some(Session {
                number,
                outbox,
                pending: HashMap::new(),
                _replaced: replaced_tx,
            }),
            address,
            connected_since: SystemTime::now(),
            disconnected_at: None,
            last_push: None,
            clusters,
            connectors: hello.connectors.clone(),
            identity,
            buffered: 0,
            dropped: 0,
            stored: 0,
            duplicates: 0,
            coordinated: hello.coordinated,
            share: None,
        };
        match state.collectors.get_mut(&id) {
            Some(old) => {
                let (stored, duplicates, last_push) = (old.stored, old.duplicates, old.last_push);
                *old = Entry {
                    stored,
                    duplicates,
                    last_push,
                    ..entry
                };
            }
            None => {
                state.collectors.insert(id, entry);
            }
        }
        Ok((number, replaced))
    }

    /// The clusters of `collector` from now on (its share changed), taken over from their
    /// previous collectors when `coordinated`.
    pub(super) fn reclaim(
        &self,
        collector: &str,
        clusters: &[ingest::CollectedCluster],
        coordinated: bool,
    ) -> Result<(), Status> {
        let id: Arc<str> = collector.into();
        let mut state = self.lock();
        self.check_claims(&state, &id, clusters, coordinated)?;
        let claimed = claim(&mut state, &id, clusters);
        if let Some(entry) = state.collectors.get_mut(collector) {
            entry.clusters = claimed;
        }
        Ok(())
    }

    /// Refuses a claim of a cluster this server collects, or (unless `coordinated`) one that
    /// another connected collector has.
    fn check_claims(
        &self,
        state: &State,
        id: &Arc<str>,
        clusters: &[ingest::CollectedCluster],
        coordinated: bool,
    ) -> Result<(), Status> {
        for cluster in clusters {
            let local = self.local.read().unwrap_or_else(|p| p.into_inner());
            if local.contains(cluster.id.as_str()) {
                return Err(Status::failed_precondition(format!(
                    "cluster {} is collected by this server itself; remove it from one of the two",
                    quote(&cluster.id)
                )));
            }
            if coordinated {
                continue;
            }
            if let Some(owner) = state.owners.get(cluster.id.as_str())
                && owner.collector != *id
                && state
                    .collectors
                    .get(&owner.collector)
                    .is_some_and(|e| e.session.is_some())
            {
                return Err(Status::failed_precondition(format!(
                    "cluster {} is collected by collector {}, which is connected",
                    quote(&cluster.id),
                    quote(&owner.collector)
                )));
            }
        }
        Ok(())
    }

    /// How the share of `collector` stands, as it says.
    pub(super) fn share(&self, collector: &str, share: ingest::ShareStatus) {
        if let Some(entry) = self.lock().collectors.get_mut(collector) {
            entry.share = Some(share);
        }
    }

    /// The session `number` of `collector` ended: its pending commands fail.
    pub(super) fn close(&self, collector: &str, number: u64) {
        let mut state = self.lock();
        let Some(entry) = state.collectors.get_mut(collector) else {
            return;
        };
        if entry.session.as_ref().is_some_and(|s| s.number == number) {
            let session = entry.session.take().expect("checked");
            entry.disconnected_at = Some(SystemTime::now());
            for (_, answer) in session.pending {
                let _ = answer.send(Err(Status::unavailable(format!(
                    "collector {} disconnected before it answered",
                    quote(collector)
                ))));
            }
        }
    }

    pub(super) fn pushed(
        &self,
        collector: &str,
        cluster: &str,
        p: &ingest::PushedReport,
        stored: bool,
    ) {
        let now = SystemTime::now();
        let mut state = self.lock();
        if let Some(owner) = state.owners.get_mut(cluster) {
            owner.last_push = Some(now);
            owner.stats = p.stats.unwrap_or_default();
        }
        if let Some(entry) = state.collectors.get_mut(collector) {
            entry.last_push = Some(now);
            entry.buffered = p.buffered_reports;
            entry.dropped = p.dropped_reports;
            if stored {
                entry.stored += 1;
            } else {
                entry.duplicates += 1;
            }
        }
    }

    pub(super) fn answered(&self, collector: &str, result: ingest::CommandResult) {
        let mut state = self.lock();
        let Some(session) = state
            .collectors
            .get_mut(collector)
            .and_then(|e| e.session.as_mut())
        else {
            return;
        };
        let Some(answer) = session.pending.remove(&result.id) else {
            return;
        };
        let outcome = match result.result {
            Some(ingest::command_result::Result::Output(output)) => Ok(output),
            Some(ingest::command_result::Result::Error(e)) => {
                Err(Status::new(tonic::Code::from_i32(e.code), e.message))
            }
            None => Err(Status::internal(
                "the collector sent an empty command result",
            )),
        };
        let _ = answer.send(outcome);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Makes `id` the owner of `clusters`; their ids. A cluster taken over from another collector
/// leaves that collector's list.
fn claim(state: &mut State, id: &Arc<str>, clusters: &[ingest::CollectedCluster]) -> Vec<Arc<str>> {
    let mut claimed = Vec::with_capacity(clusters.len());
    for cluster in clusters {
        let cluster_id: Arc<str> = cluster.id.as_str().into();
        let previous = state.owners.get(&cluster_id);
        if let Some(previous) = previous.filter(|p| p.collector != *id) {
            tracing::info!(
                cluster = %cluster_id,
                "moved from collector '{}' to collector '{id}'",
                previous.collector
            );
            let from = Arc::clone(&previous.collector);
            if let Some(entry) = state.collectors.get_mut(&from) {
                entry.clusters.retain(|c| *c != cluster_id);
            }
        }
        let previous = state.owners.get(&cluster_id);
        let owner = Owner {
            collector: Arc::clone(id),
            isolation: cluster.isolation.clone(),
            last_push: previous
                .filter(|p| p.collector == *id)
                .and_then(|p| p.last_push),
            stats: previous.map(|p| p.stats).unwrap_or_default(),
        };
        state.owners.insert(Arc::clone(&cluster_id), owner);
        claimed.push(cluster_id);
    }
    claimed
}

fn whole_seconds(since: SystemTime) -> Duration {
    Duration::from_secs(since.elapsed().unwrap_or_default().as_secs())
}
