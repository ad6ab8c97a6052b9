//! The membership loop: one session per lease (register, watch, renew, fence, publish), and
//! a new session whenever a lease is lost. The protocol is in the module docs of
//! [`super`].

use super::{
    LeaseState, MemberStatus, Owned, Status,
    etcd::{Client, EtcdError, Event, KeyValue},
    rendezvous::{self, Member},
};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinSet,
    time::{Instant, sleep, sleep_until},
};

/// A member's key's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registration {
    pub weight: u32,
    pub applied: i64,
    #[serde(default)]
    pub lease: i64,
}

/// A member as the view holds it.
#[derive(Debug, Clone)]
struct Seen {
    registration: Registration,
    /// Its key's create revision: the revision it joined at.
    joined: i64,
    /// The lease its key is under.
    lease: i64,
}

/// What the loop shares with [`super::Coordinator::status`].
#[derive(Debug)]
pub struct Shared {
    me: Arc<str>,
    weight: u32,
    clusters: usize,
    lease: LeaseState,
    valid_until: Option<Instant>,
    members: Vec<MemberStatus>,
    assigned: usize,
    owned: usize,
    waiting_for: Vec<Arc<str>>,
    applied: i64,
    moves: VecDeque<(Instant, usize)>,
    overlaps: u64,
    why_nothing: Option<String>,
    etcd_error: Option<String>,
}

impl Shared {
    pub fn new(me: Arc<str>, weight: u32, clusters: usize) -> Shared {
        Shared {
            me,
            weight,
            clusters,
            lease: LeaseState::Joining,
            valid_until: None,
            members: Vec::new(),
            assigned: 0,
            owned: 0,
            waiting_for: Vec::new(),
            applied: 0,
            moves: VecDeque::new(),
            overlaps: 0,
            why_nothing: Some("joining: no lease yet".into()),
            etcd_error: None,
        }
    }

    pub fn status(&mut self) -> Status {
        let hour_ago = Instant::now().checked_sub(Duration::from_secs(3600));
        while let (Some((at, _)), Some(limit)) = (self.moves.front(), hour_ago) {
            if *at >= limit {
                break;
            }
            self.moves.pop_front();
        }
        let lease = match (&self.lease, self.valid_until) {
            (LeaseState::Valid { id, .. }, Some(until)) => LeaseState::Valid {
                id: *id,
                expires_in: until.saturating_duration_since(Instant::now()),
            },
            (other, _) => other.clone(),
        };
        Status {
            me: self.me.clone(),
            weight: self.weight,
            lease,
            members: self.members.clone(),
            clusters: self.clusters,
            assigned: self.assigned,
            owned: self.owned,
            waiting_for: self.waiting_for.clone(),
            applied: self.applied,
            moves_last_hour: self.moves.iter().map(|(_, n)| n).sum(),
            overlaps: self.overlaps,
            why_nothing: self.why_nothing.clone(),
            etcd_error: self.etcd_error.clone(),
        }
    }
}

/// Everything one collector's loop needs.
pub struct Run {
    pub client: Arc<Client>,
    /// `PREFIX/collectors/`.
    pub prefix: String,
    pub me: Arc<str>,
    pub weight: u32,
    pub candidates: Vec<(Arc<str>, Option<Arc<str>>)>,
    pub ttl: Duration,
    pub owned_tx: watch::Sender<Owned>,
    pub shared: Arc<Mutex<Shared>>,
    /// Set when the coordinator is dropped without leaving: nothing is revoked then.
    pub aborted: Arc<AtomicBool>,
}

/// How a session ended.
enum End {
    Leave,
    Lost(String),
}

/// What the watch task sends.
enum Watched {
    Events(Vec<Event>),
    /// The whole prefix, read again after the watch broke.
    Snapshot(Vec<KeyValue>),
    Broken(String),
}

impl Run {
    fn key(&self) -> String {
        format!("{}{}", self.prefix, self.me)
    }

    /// Time one call may take: a third of the TTL (a renewal gets there before the next).
    fn call_timeout(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(500))
    }

    /// Sessions until `leave` fires.
    pub async fn run(self, mut leave: oneshot::Receiver<()>, ready: oneshot::Sender<()>) {
        let mut ready = Some(ready);
        let mut backoff = Duration::from_millis(200);
        loop {
            let started = Instant::now();
            let end = self.session(&mut leave, &mut ready).await;
            self.publish(BTreeSet::new());
            match end {
                End::Leave => {
                    let mut shared = self.shared.lock().unwrap();
                    shared.lease = LeaseState::Lost;
                    shared.why_nothing = Some("left".into());
                    return;
                }
                End::Lost(why) => {
                    tracing::warn!(collector = %self.me, "coordination: owning nothing: {why}");
                    {
                        let mut shared = self.shared.lock().unwrap();
                        shared.lease = LeaseState::Lost;
                        shared.valid_until = None;
                        shared.why_nothing = Some(why);
                        shared.assigned = 0;
                        shared.waiting_for.clear();
                    }
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(200);
            }
            tokio::select! {
                _ = &mut leave => return,
                _ = sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(self.call_timeout());
        }
    }

    /// Publishes `owned` if it changed, counting the moves.
    fn publish(&self, owned: BTreeSet<Arc<str>>) {
        let before = self.owned_tx.borrow().clone();
        let diff = rendezvous::diff(&before, &owned);
        let mut shared = self.shared.lock().unwrap();
        shared.owned = owned.len();
        if diff.is_empty() {
            return;
        }
        let moved = diff.started.len() + diff.stopped.len();
        shared.moves.push_back((Instant::now(), moved));
        drop(shared);
        tracing::info!(
            collector = %self.me,
            owned = owned.len(),
            started = diff.started.len(),
            stopped = diff.stopped.len(),
            "coordination: ownership changed"
        );
        self.owned_tx.send_replace(Arc::new(owned));
    }

    fn set_error(&self, error: Option<String>) {
        self.shared.lock().unwrap().etcd_error = error;
    }

    /// One lease's life.
    async fn session(
        &self,
        leave: &mut oneshot::Receiver<()>,
        ready: &mut Option<oneshot::Sender<()>>,
    ) -> End {
        let call = self.call_timeout();
        let key = self.key();
        let client = &self.client;
        {
            let mut shared = self.shared.lock().unwrap();
            shared.lease = LeaseState::Joining;
        }
        // A key of an earlier process with this id: its lease goes (it is dead, or it is a
        // second process with this id, which the overlap count then shows).
        match client.get(&key, call).await {
            Ok(Some(old)) => {
                if old.lease != 0 {
                    let _ = client.revoke(old.lease, call).await;
                }
                if let Err(e) = client.delete(&key, call).await {
                    return self.lost(e);
                }
            }
            Ok(None) => {}
            Err(e) => return self.lost(e),
        }
        let sent = Instant::now();
        let (lease, granted) = match client.grant(self.ttl, call).await {
            Ok(grant) => grant,
            Err(e) => return self.lost(e),
        };
        let ttl = Duration::from_secs(granted.max(1) as u64);
        let margin = ttl / 10;
        let mut valid_until = sent + ttl - margin;
        let mut registration = Registration {
            weight: self.weight,
            applied: 0,
            lease,
        };
        // From here on a lost session revokes its lease, if etcd still answers.
        let _revoke = RevokeOnDrop {
            client: client.clone(),
            lease,
            aborted: self.aborted.clone(),
        };
        let value = serde_json::to_vec(&registration).expect("a registration serializes");
        if let Err(e) = client.put(&key, &value, lease, call).await {
            return self.lost(e);
        }
        let (kvs, revision) = match client.range_prefix(&self.prefix, call).await {
            Ok(range) => range,
            Err(e) => return self.lost(e),
        };
        let mut view = self.view_of(kvs);
        {
            let mut shared = self.shared.lock().unwrap();
            shared.lease = LeaseState::Valid {
                id: lease,
                expires_in: ttl,
            };
            shared.valid_until = Some(valid_until);
            shared.etcd_error = None;
        }
        tracing::info!(collector = %self.me, lease, members = view.len(), "coordination: joined");

        let mut tasks = JoinSet::new();
        let (watch_tx, mut watch_rx) = mpsc::channel(64);
        tasks.spawn(watch_task(
            client.clone(),
            self.prefix.clone(),
            revision + 1,
            call,
            watch_tx,
        ));
        let (renew_tx, mut renew_rx) = mpsc::channel(4);
        tasks.spawn(renew_task(
            client.clone(),
            lease,
            self.ttl / 3,
            call,
            renew_tx,
        ));
        let (applied_tx, applied_rx) = watch::channel(registration.clone());
        tasks.spawn(publish_task(client.clone(), key.clone(), call, applied_rx));

        loop {
            // The view is ours only while our own key is there under our lease.
            match view.get(&*self.me) {
                Some(seen) if seen.lease == lease => {}
                Some(_) => {
                    self.overlap();
                    return End::Lost(format!(
                        "another process registered as collector '{}': give each collector \
                         its own id",
                        self.me
                    ));
                }
                None => {
                    if !self.owned_tx.borrow().is_empty() && Instant::now() < valid_until {
                        self.overlap();
                    }
                    return End::Lost(
                        "etcd deleted this collector's key (its lease expired \
                                      or was revoked)"
                            .into(),
                    );
                }
            }
            let applied = self.apply(&view, valid_until);
            if applied > registration.applied {
                registration.applied = applied;
                applied_tx.send_replace(registration.clone());
                self.shared.lock().unwrap().applied = applied;
            }
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
            tokio::select! {
                _ = &mut *leave => {
                    self.publish(BTreeSet::new());
                    // Stopped first, then revoked: the others start the clusters only then.
                    drop(tasks);
                    let _ = client.revoke(lease, Duration::from_secs(2)).await;
                    tracing::info!(collector = %self.me, "coordination: left (lease revoked)");
                    return End::Leave;
                }
                _ = sleep_until(valid_until) => {
                    let why = self.shared.lock().unwrap().etcd_error.clone();
                    return End::Lost(format!(
                        "the lease was not renewed in time ({}); collecting nothing until \
                         etcd answers again",
                        why.unwrap_or_else(|| "no answer".into())
                    ));
                }
                Some((sent, renewed)) = renew_rx.recv() => match renewed {
                    Ok(ttl) if ttl > 0 => {
                        let ttl = Duration::from_secs(ttl as u64);
                        valid_until = valid_until.max(sent + ttl - ttl / 10);
                        let mut shared = self.shared.lock().unwrap();
                        shared.valid_until = Some(valid_until);
                        shared.etcd_error = None;
                    }
                    Ok(_) => return self.lease_gone(valid_until),
                    Err(e) if e.lease_not_found() => return self.lease_gone(valid_until),
                    Err(e) => {
                        tracing::warn!(collector = %self.me, "coordination: renewal failed: {e}");
                        self.set_error(Some(e.to_string()));
                    }
                },
                Some(watched) = watch_rx.recv() => match watched {
                    Watched::Events(events) => {
                        for event in events {
                            self.apply_event(&mut view, event);
                        }
                    }
                    Watched::Snapshot(kvs) => view = self.view_of(kvs),
                    Watched::Broken(e) => {
                        tracing::warn!(collector = %self.me, "coordination: watch: {e}");
                        self.set_error(Some(e));
                    }
                },
            }
        }
    }

    fn lost(&self, e: EtcdError) -> End {
        self.set_error(Some(e.to_string()));
        End::Lost(e.to_string())
    }

    fn overlap(&self) {
        self.shared.lock().unwrap().overlaps += 1;
    }

    /// etcd says the lease is gone: an overlap if our clock still held it valid while we
    /// owned clusters (another collector may have started them).
    fn lease_gone(&self, valid_until: Instant) -> End {
        if !self.owned_tx.borrow().is_empty() && Instant::now() < valid_until {
            self.overlap();
        }
        End::Lost("etcd says the lease expired".into())
    }

    fn view_of(&self, kvs: Vec<KeyValue>) -> BTreeMap<Arc<str>, Seen> {
        let mut view = BTreeMap::new();
        for kv in kvs {
            self.insert(&mut view, kv);
        }
        view
    }

    fn insert(&self, view: &mut BTreeMap<Arc<str>, Seen>, kv: KeyValue) {
        let Some(id) = kv.key.strip_prefix(&self.prefix) else {
            return;
        };
        let Ok(registration) = serde_json::from_slice::<Registration>(&kv.value) else {
            tracing::warn!("coordination: {} holds no registration; ignored", kv.key);
            return;
        };
        view.insert(
            id.into(),
            Seen {
                registration,
                joined: kv.create_revision,
                lease: kv.lease,
            },
        );
    }

    fn apply_event(&self, view: &mut BTreeMap<Arc<str>, Seen>, event: Event) {
        if event.delete {
            if let Some(id) = event.kv.key.strip_prefix(&self.prefix) {
                view.remove(id);
            }
        } else {
            self.insert(view, event.kv);
        }
    }

    /// Computes and publishes what this member may collect in `view`; returns the join
    /// revision it has applied.
    fn apply(&self, view: &BTreeMap<Arc<str>, Seen>, valid_until: Instant) -> i64 {
        let members: Vec<Member> = view
            .iter()
            .map(|(id, seen)| Member {
                id: id.clone(),
                weight: seen.registration.weight.max(1),
            })
            .collect();
        let newest_join = view.values().map(|s| s.joined).max().unwrap_or(0);
        let target = rendezvous::assigned(&self.me, &self.candidates, &members);
        let waiting_for: Vec<Arc<str>> = view
            .iter()
            .filter(|(id, seen)| **id != self.me && seen.registration.applied < newest_join)
            .map(|(id, _)| id.clone())
            .collect();
        let lease_ok = Instant::now() < valid_until;
        let owned: BTreeSet<Arc<str>> = if !lease_ok {
            BTreeSet::new()
        } else if waiting_for.is_empty() {
            target.clone()
        } else {
            let before = self.owned_tx.borrow();
            target.intersection(&before).cloned().collect()
        };
        let fenced = target.len() - owned.len();
        let why = if !lease_ok {
            Some("the lease would have expired".to_string())
        } else if owned.is_empty() && fenced > 0 {
            Some(format!(
                "waiting for {} to apply the join at revision {newest_join}",
                waiting_for.join(", ")
            ))
        } else if owned.is_empty() && !self.candidates.is_empty() {
            Some("no cluster hashes to this collector".to_string())
        } else {
            None
        };
        {
            let mut shared = self.shared.lock().unwrap();
            shared.members = view
                .iter()
                .map(|(id, seen)| MemberStatus {
                    id: id.clone(),
                    weight: seen.registration.weight,
                    joined: seen.joined,
                    applied: seen.registration.applied,
                })
                .collect();
            shared.assigned = target.len();
            shared.waiting_for = if fenced > 0 { waiting_for } else { Vec::new() };
            shared.why_nothing = why;
        }
        self.publish(owned);
        newest_join
    }
}

/// Revokes the lease when a session ends without leaving (best effort, in the background):
/// the others need not wait for it to expire.
struct RevokeOnDrop {
    client: Arc<Client>,
    lease: i64,
    aborted: Arc<AtomicBool>,
}

impl Drop for RevokeOnDrop {
    fn drop(&mut self) {
        // A dropped coordinator is a crash: its lease is left to expire.
        if self.aborted.load(Ordering::SeqCst) || std::thread::panicking() {
            return;
        }
        let client = self.client.clone();
        let lease = self.lease;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = client.revoke(lease, Duration::from_secs(2)).await;
            });
        }
    }
}

/// Renews `lease` every `every`; sends each answer with the time its request was sent.
async fn renew_task(
    client: Arc<Client>,
    lease: i64,
    every: Duration,
    call: Duration,
    tx: mpsc::Sender<(Instant, Result<i64, EtcdError>)>,
) {
    loop {
        sleep(every).await;
        let sent = Instant::now();
        let answer = client.keep_alive(lease, call.min(every)).await;
        if tx.send((sent, answer)).await.is_err() {
            return;
        }
    }
}

/// Watches the prefix from `start`; after a break, reads it whole again and watches on.
async fn watch_task(
    client: Arc<Client>,
    prefix: String,
    mut start: i64,
    call: Duration,
    tx: mpsc::Sender<Watched>,
) {
    loop {
        match client.watch(&prefix, start, call).await {
            Ok(mut watch) => loop {
                match watch.next().await {
                    Ok(events) => {
                        if let Some(last) = events.iter().map(|e| e.kv.mod_revision).max() {
                            start = start.max(last + 1);
                        }
                        if tx.send(Watched::Events(events)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if tx.send(Watched::Broken(e)).await.is_err() {
                            return;
                        }
                        break;
                    }
                }
            },
            Err(e) => {
                if tx.send(Watched::Broken(e.to_string())).await.is_err() {
                    return;
                }
            }
        }
        sleep(Duration::from_millis(300)).await;
        match client.range_prefix(&prefix, call).await {
            Ok((kvs, revision)) => {
                start = revision + 1;
                if tx.send(Watched::Snapshot(kvs)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                if tx.send(Watched::Broken(e.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Puts the newest registration (coalescing), retrying until etcd takes it.
async fn publish_task(
    client: Arc<Client>,
    key: String,
    call: Duration,
    mut rx: watch::Receiver<Registration>,
) {
    while rx.changed().await.is_ok() {
        loop {
            let registration = rx.borrow_and_update().clone();
            let value = serde_json::to_vec(&registration).expect("a registration serializes");
            match client.put(&key, &value, registration.lease, call).await {
                Ok(_) => break,
                Err(e) if e.lease_not_found() => return,
                Err(_) => sleep(Duration::from_millis(200)).await,
            }
        }
    }
}
