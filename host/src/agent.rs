//! One agent per cluster: a tokio task (not a thread) that calls the connector every interval,
//! abandons a collection at its timeout, and records a report whatever happened.

use crate::{
    rules::{Held, Rules},
    runner::Runner,
    store::{ClusterSlot, Collection, Outcome},
};
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};
use tokio::{sync::watch, time::MissedTickBehavior};

/// When and how one cluster is collected.
#[derive(Clone)]
pub struct Agent {
    /// Where reports go.
    pub slot: Arc<ClusterSlot>,
    /// The cluster's connector.
    pub runner: Arc<Runner>,
    /// Bound of the start offset.
    pub jitter: Duration,
    /// Fixed delay before the first collection.
    pub initial_delay: Duration,
    /// The configuration's verdict rules, applied to each report before it is stored.
    pub rules: Arc<Rules>,
}

impl Agent {
    /// Collects until `shutdown` (the host's stop) or `released` (this agent's) turns true.
    pub async fn run(
        self,
        mut shutdown: watch::Receiver<bool>,
        mut released: watch::Receiver<bool>,
    ) {
        let info = &self.slot.info;
        let spread = self.jitter.mul_f64(offset_fraction(&info.id));
        let first = tokio::time::Instant::now() + self.initial_delay + spread;
        let mut ticker = tokio::time::interval_at(first, info.interval);
        // A host that fell behind skips the missed collections instead of bursting them.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        // Sequences continue from what the store holds, across restarts.
        let mut sequence = self.slot.last_sequence();
        let mut held = Held::default();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|s| *s) => break,
                _ = released.wait_for(|s| *s) => break,
            }
            sequence += 1;
            let started_at = SystemTime::now();
            let clock = Instant::now();
            let mut outcome = self.runner.collect(&info.id, sequence, info.timeout).await;
            match &mut outcome {
                Outcome::Collected(report) => {
                    if let Some(verdict) = self.rules.judge(report, &mut held) {
                        report.judged(verdict);
                    }
                }
                _ => held.clear(),
            }
            let recorded = self.slot.record(Collection {
                sequence,
                started_at,
                duration: clock.elapsed(),
                outcome,
                origin: None,
            });
            match recorded.await {
                Ok(report) => {
                    if let Some(error) = &report.error {
                        tracing::debug!(cluster = %info.id, sequence, "collection failed: {error}");
                    }
                }
                Err(e) => tracing::warn!(cluster = %info.id, sequence, "report not stored: {e}"),
            }
        }
        tracing::debug!(cluster = %info.id, "agent stopped");
    }
}

/// The agents of the clusters this process collects now: every cluster of its file, or (for a
/// collector that shares its clusters with others) its share, started and stopped as the
/// share changes. A stopped agent finishes the collection it is in, then ends.
pub struct Agents {
    agents: HashMap<Arc<str>, Agent>,
    shutdown: watch::Receiver<bool>,
    running: HashMap<Arc<str>, Running>,
    stopped: Vec<tokio::task::JoinHandle<()>>,
}

struct Running {
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Agents {
    /// The agents that may run, none running yet; all stop when `shutdown` turns true.
    pub fn new(agents: impl IntoIterator<Item = Agent>, shutdown: watch::Receiver<bool>) -> Agents {
        Agents {
            shutdown,
            agents: agents
                .into_iter()
                .map(|a| (Arc::clone(&a.slot.info.id), a))
                .collect(),
            running: HashMap::new(),
            stopped: Vec::new(),
        }
    }

    /// Every cluster.
    pub fn ids(&self) -> impl Iterator<Item = &Arc<str>> {
        self.agents.keys()
    }

    /// Adds the agent of a cluster (a reload added or changed it), stopping the one it
    /// replaces; it runs at the next [`Agents::run_only`] that names it.
    pub fn insert(&mut self, agent: Agent) {
        let id = Arc::clone(&agent.slot.info.id);
        self.stop_one(&id);
        self.agents.insert(id, agent);
    }

    /// Stops and forgets the agent of `id` (a reload removed the cluster).
    pub fn remove(&mut self, id: &str) {
        self.stop_one(id);
        self.agents.remove(id);
    }

    fn stop_one(&mut self, id: &str) {
        if let Some(running) = self.running.remove(id) {
            let _ = running.stop.send(true);
            self.stopped.push(running.task);
        }
    }

    /// Runs exactly the agents of `clusters` (ids it does not know are ignored): starts the
    /// new ones, stops the others.
    pub fn run_only<'a>(&mut self, clusters: impl IntoIterator<Item = &'a Arc<str>>) {
        let wanted: HashSet<&Arc<str>> = clusters
            .into_iter()
            .filter(|id| self.agents.contains_key(*id))
            .collect();
        let leaving: Vec<Arc<str>> = self
            .running
            .keys()
            .filter(|id| !wanted.contains(id))
            .cloned()
            .collect();
        for id in leaving {
            let running = self.running.remove(&id).expect("listed");
            let _ = running.stop.send(true);
            self.stopped.push(running.task);
        }
        for id in wanted {
            if self.running.contains_key(id) {
                continue;
            }
            let (stop, released) = watch::channel(false);
            let agent = self.agents[id].clone();
            let task = tokio::spawn(agent.run(self.shutdown.clone(), released));
            self.running.insert(Arc::clone(id), Running { task, stop });
        }
        self.stopped.retain(|t| !t.is_finished());
    }

    /// Clusters whose agents run now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Stops every agent; false when some were still collecting at `deadline`.
    pub async fn stop(mut self, deadline: tokio::time::Instant) -> bool {
        self.run_only(std::iter::empty());
        let all = futures::future::join_all(self.stopped);
        tokio::time::timeout_at(deadline, all).await.is_ok()
    }

    /// [`Agents::stop`] of agents shared with a reload.
    pub async fn stop_shared(
        agents: &std::sync::Mutex<Agents>,
        deadline: tokio::time::Instant,
    ) -> bool {
        let taken = {
            let mut agents = agents.lock().unwrap_or_else(|p| p.into_inner());
            let shutdown = agents.shutdown.clone();
            std::mem::replace(&mut *agents, Agents::new([], shutdown))
        };
        taken.stop(deadline).await
    }
}

/// A fraction in [0, 1) fixed by the cluster id: each cluster keeps its place in the interval
/// across restarts, and clusters spread evenly.
fn offset_fraction(id: &str) -> f64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::offset_fraction;

    #[test]
    fn offsets_are_stable_and_spread() {
        assert_eq!(offset_fraction("a"), offset_fraction("a"));
        let offsets: Vec<f64> = (0..1000)
            .map(|i| offset_fraction(&format!("cluster-{i}")))
            .collect();
        assert!(offsets.iter().all(|f| (0.0..1.0).contains(f)));
        let first_half = offsets.iter().filter(|f| **f < 0.5).count();
        assert!(
            (400..600).contains(&first_half),
            "{first_half} of 1000 in the first half"
        );
    }
}
