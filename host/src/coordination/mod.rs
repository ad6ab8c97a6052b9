//! Collectors that share the clusters of one config file among themselves, through etcd
//! (issue 11): each cluster is collected by exactly one live collector, and the clusters move
//! within seconds when a collector joins, leaves or dies.
//!
//! # How etcd is reached
//!
//! Through etcd's JSON gateway (`POST /v3/lease/grant`, `/v3/kv/put`, `/v3/watch`, ...; served
//! on every etcd ≥ 3.4 client port), over reqwest with the rustls settings the connectors use
//! (`dbmon_scrape::client_config`), so `coordination.tls` has a cluster's `tls:` shape and
//! meaning.
//! Not the `etcd-client` crate: its build script compiles etcd's protos with the machine's
//! `protoc` (no vendored one), and this workspace builds without a system protoc. Not a
//! vendored `rpc.proto` compiled by tonic either: that needs a second proto build in the host's
//! build script, for five calls the gateway already serves as JSON (module [`etcd`]).
//!
//! # The protocol
//!
//! * **Membership.** A collector grants a lease of `lease_ttl`, renews it every `lease_ttl/3`
//!   and puts `PREFIX/collectors/ID` = `{"weight": W, "applied": R, "lease": L}` under it (a
//!   key left by an earlier process of the same id is revoked and deleted first, so each
//!   process's key is created anew: its `create_revision` is the revision it joined at). It
//!   reads `PREFIX/collectors/` and watches it from there on: the live set, each member's
//!   weight, join revision and `applied`. etcd writes: one keep-alive per collector every
//!   `lease_ttl/3`, and one put per collector per join; none grows with the clusters.
//! * **Ownership.** The owner of a cluster is the live member with the highest weighted
//!   rendezvous score ([`rendezvous`]); a cluster pinned by `collector: ID` belongs to that
//!   collector alone, and to nobody while it is away.
//! * **Fencing.** A collector collects a cluster only while its own lease is valid (by its
//!   own clock: the send time of the last renewal etcd answered + the TTL it gave, less a
//!   tenth for stopping) and the cluster is its own. Only a join takes clusters from a live
//!   member (a leave gives away the leaver's clusters, and its key is gone only once it has
//!   stopped: revoked after stopping, or expired after its own clock stopped it). So each
//!   member publishes in `applied` the newest join revision of the view it has applied —
//!   written after it has given up the clusters that view takes from it — and a member starts
//!   a cluster it did not collect only when every other live member has `applied` ≥ the
//!   newest join revision of its own view (every live member, a superset of the previous
//!   owners: the barrier costs one put per member per join). A cluster it kept across the
//!   change keeps running. Clusters of a member whose key is gone are free at once.
//! * **Leaving.** [`Coordinator::leave`] (at SIGTERM) gives up every cluster, then revokes
//!   the lease: the others see the delete at once and start the clusters. A collector that
//!   dies without leaving loses its key when its lease expires: its clusters move within
//!   `lease_ttl` + the others' watch latency.
//! * **etcd away.** Renewals fail; the collector keeps what it owns until its lease would
//!   have expired, then owns nothing and says why ([`Status::why_nothing`], and a warning);
//!   it keeps trying, and when etcd answers it joins again with a new lease. Nothing is ever
//!   owned without a valid lease, so a collector cut off from etcd never collects alongside
//!   the one that took its clusters.
//! * **Overlap.** What one collector can see of an overlap is counted
//!   ([`Status::overlaps`]): etcd dropping its lease (or its key) while its own clock still
//!   held it valid and it owned clusters, or another process registering with its id.
//!
//! All collectors must have the same `clusters:` (ids and pins) and distinct ids.

pub mod etcd;
pub mod rendezvous;
mod session;

use crate::config;
use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::{oneshot, watch};

/// A cluster that may be shared: its id, and the collector it is pinned to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The cluster's id.
    pub id: Arc<str>,
    /// `collector: ID` of the cluster: only that collector collects it.
    pub pinned: Option<Arc<str>>,
}

impl Candidate {
    /// An unpinned cluster.
    pub fn new(id: impl Into<Arc<str>>) -> Candidate {
        Candidate {
            id: id.into(),
            pinned: None,
        }
    }

    /// A cluster of the config file, with its pin.
    pub fn of(cluster: &config::Cluster) -> Candidate {
        Candidate {
            id: cluster.id.as_str().into(),
            pinned: cluster.collector.as_deref().map(Into::into),
        }
    }
}

/// Why a coordinator cannot start (etcd being away is not one: it keeps trying).
#[derive(Debug, thiserror::Error)]
pub enum CoordinationError {
    /// The settings cannot work (a TLS file that does not read, an invalid collector id).
    #[error("coordination: {0}")]
    Settings(String),
}

/// The set of clusters a collector may collect now.
pub type Owned = Arc<BTreeSet<Arc<str>>>;

/// The lease as this collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// No lease yet (starting, or joining again after losing one).
    Joining,
    /// Granted and renewed: valid for `expires_in` more by this collector's clock.
    Valid {
        /// etcd's lease id.
        id: i64,
        /// Time until it would expire without another renewal (less the stopping margin).
        expires_in: Duration,
    },
    /// Lost: expired, revoked, or not renewed in time; `why_nothing` says which.
    Lost,
}

/// A live member as the last view had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its collector id.
    pub id: Arc<str>,
    /// Its weight.
    pub weight: u32,
    /// The etcd revision it joined at (its key's create revision).
    pub joined: i64,
    /// The newest join revision it has applied.
    pub applied: i64,
}

/// What [`Coordinator::status`] tells.
#[derive(Debug, Clone)]
pub struct Status {
    /// This collector's id.
    pub me: Arc<str>,
    /// Its weight.
    pub weight: u32,
    /// Its lease.
    pub lease: LeaseState,
    /// The live members (this one included once registered), by id.
    pub members: Vec<MemberStatus>,
    /// Clusters in the file.
    pub clusters: usize,
    /// Clusters the hashing gives this collector in the current view.
    pub assigned: usize,
    /// Of those, the ones it may collect now (the others wait for the fencing).
    pub owned: usize,
    /// Members whose `applied` the fencing waits for.
    pub waiting_for: Vec<Arc<str>>,
    /// The newest join revision of the view applied (what this member publishes).
    pub applied: i64,
    /// Clusters started or stopped in the last hour.
    pub moves_last_hour: usize,
    /// Overlaps detected (see the module docs).
    pub overlaps: u64,
    /// Why nothing is owned, when nothing is (and there are clusters).
    pub why_nothing: Option<String>,
    /// The last etcd error, while etcd does not answer.
    pub etcd_error: Option<String>,
}

/// A collector's membership: joins at [`Coordinator::join`], tells what it may collect
/// ([`Coordinator::owned`]), leaves at [`Coordinator::leave`]. Dropping it without leaving
/// stops its tasks without revoking the lease (as a crash would: the others wait for the
/// lease to expire).
pub struct Coordinator {
    owned: watch::Receiver<Owned>,
    shared: Arc<Mutex<session::Shared>>,
    leave: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    aborted: Arc<AtomicBool>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Joins: grants the lease, registers `me` with `weight`, starts the keep-alive and watch
    /// tasks. Waits (at most `lease_ttl`) for the first registration; when etcd does not
    /// answer it returns all the same, owning nothing, and keeps trying (see
    /// [`Status::why_nothing`]).
    pub async fn join(
        settings: &config::Coordination,
        me: &str,
        weight: u32,
        clusters: Vec<Candidate>,
    ) -> Result<Coordinator, CoordinationError> {
        if let Some(problem) = crate::names::collector_id_problem(me) {
            return Err(CoordinationError::Settings(problem));
        }
        let client = etcd::Client::new(
            &settings.endpoints,
            settings.tls.as_ref(),
            settings.auth.clone(),
        )
        .map_err(CoordinationError::Settings)?;
        let me: Arc<str> = me.into();
        let (owned_tx, owned) = watch::channel(Owned::default());
        let shared = Arc::new(Mutex::new(session::Shared::new(
            me.clone(),
            weight,
            clusters.len(),
        )));
        let (leave_tx, leave_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let aborted = Arc::new(AtomicBool::new(false));
        let run = session::Run {
            client: Arc::new(client),
            prefix: format!("{}/collectors/", settings.prefix),
            me,
            weight: weight.max(1),
            candidates: clusters.into_iter().map(|c| (c.id, c.pinned)).collect(),
            ttl: settings.lease_ttl.max(Duration::from_secs(1)),
            owned_tx,
            shared: shared.clone(),
            aborted: aborted.clone(),
        };
        let task = tokio::spawn(run.run(leave_rx, ready_tx));
        let _ = tokio::time::timeout(settings.lease_ttl, ready_rx).await;
        Ok(Coordinator {
            owned,
            shared,
            leave: Some(leave_tx),
            task: Some(task),
            aborted,
        })
    }

    /// The clusters this collector may collect now (fenced), updated on every change: start
    /// an agent for each cluster that enters the set, stop the agent of each that leaves it.
    pub fn owned(&self) -> watch::Receiver<Owned> {
        self.owned.clone()
    }

    /// Share, live members, moves in the last hour, lease state, why nothing is owned.
    pub fn status(&self) -> Status {
        self.shared.lock().unwrap().status()
    }

    /// Gives up every cluster, then revokes the lease (at most 2 s): the others take the
    /// clusters at once.
    pub async fn leave(mut self) {
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.aborted.store(true, Ordering::SeqCst);
            task.abort();
        }
    }
}
