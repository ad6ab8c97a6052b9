//! Reloading the configuration while the host runs (SIGHUP, `dbmon reload`, `watch_config`):
//! the new file is checked completely first (its own errors, the plugins folder, every
//! changed cluster through its connector) and changes nothing when it has errors; otherwise
//! only what changed restarts. An added cluster starts; a removed one stops after a final
//! report saying so; a changed one restarts its agent (history kept when its connector is
//! the same); the others keep their schedule. A changed `listen:` or `metrics_listen:` moves
//! that listener ([`super::listeners`]). New libraries in the plugins folder load; a
//! loaded library that changed is refused, since it cannot be unloaded.

use super::{Found, Role, listeners::Listeners, start_runners_of};
use crate::{
    agent::{Agent, Agents},
    config::{Cluster, Config},
    ingest::Collectors,
    live::Live,
    store::{ClusterInfo, Collection, Outcome, Store},
};
use dbmon_proto::admin;
use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

/// What the command line set over the file, applied to every reload as at the start.
#[derive(Debug, Clone, Default)]
pub(super) struct Overrides {
    pub listen: Option<String>,
    pub plugins_dir: Option<PathBuf>,
}

/// Everything a reload changes, and the configuration it starts from.
pub(super) struct Reloader {
    pub file: PathBuf,
    /// A collector's share when it is its file's clusters: what a reload changes.
    pub share: Option<tokio::sync::watch::Sender<crate::ingest::collector::Share>>,
    pub overrides: Overrides,
    pub role: Role,
    /// A collector whose share comes from a coordinator: its clusters change at a restart
    /// (the coordinator's candidates are fixed when it joins).
    pub coordinated: bool,
    /// `--log-level` (`DBMON_LOG`), which wins over the file's `log_level:`.
    pub log_flag: Option<String>,
    pub store: Arc<Store>,
    pub live: Arc<Live>,
    pub agents: Arc<Mutex<Agents>>,
    /// The server's registry of collectors (not for a collector).
    pub collectors: Option<Arc<Collectors>>,
    /// The listeners a reload moves, opens or closes.
    pub listeners: Arc<Listeners>,
    /// The clusters and listen addresses in force; one reload at a time.
    pub current: tokio::sync::Mutex<Applied>,
}

/// What the last applied configuration said.
pub(super) struct Applied {
    pub clusters: Vec<Cluster>,
    pub listen: String,
    pub metrics_listen: Option<String>,
    /// The log filter in force (also given to connector workers started from now on).
    pub log_level: String,
}

/// The log filter: the flag's, else the file's, else `info`.
pub(super) fn log_level(flag: Option<&str>, file: Option<&str>) -> String {
    flag.or(file).unwrap_or("info").to_string()
}

impl Reloader {
    /// Reads the file again and applies it, or says why not.
    pub async fn reload(&self) -> admin::ReloadResponse {
        let mut current = self.current.lock().await;
        let mut answer = admin::ReloadResponse::default();
        let (mut config, errors) = Config::load_partial(&self.file);
        if let Some(listen) = &self.overrides.listen {
            config.listen = listen.clone();
        }
        if let Some(dir) = &self.overrides.plugins_dir {
            config.plugins_dir = dir.clone();
        }
        if !errors.is_empty() {
            answer.errors = errors.iter().map(|e| e.to_string()).collect();
            return self.refused(answer);
        }
        if !self.role.collects() {
            config.clusters.clear();
        }
        let registry = self.live.registry();
        let (registry, loaded, refusals) = if self.role.collects() {
            registry.reloaded(&config.plugins_dir, &config.trust)
        } else {
            (crate::plugins::Registry::default(), Vec::new(), Vec::new())
        };
        answer.loaded = loaded
            .iter()
            .map(|p| format!("{} {} ({})", p.name, p.version, p.shown_path()))
            .collect();
        answer.refused = refusals
            .iter()
            .map(|r| format!("{}: {}", r.path.display(), r.reason))
            .collect();
        let old: HashMap<&str, &Cluster> = current
            .clusters
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        let new_ids: HashSet<&str> = config.clusters.iter().map(|c| c.id.as_str()).collect();
        let fresh: Vec<&Cluster> = config
            .clusters
            .iter()
            .filter(|c| old.get(c.id.as_str()).is_none_or(|o| !same(o, c)))
            .collect();
        let found = Found {
            registry: &registry,
            refusals: &refusals,
        };
        let level = log_level(self.log_flag.as_deref(), config.log_level.as_deref());
        let runners = match start_runners_of(&config, fresh.iter().copied(), found, &level).await {
            Ok(runners) => runners,
            Err(errors) => {
                answer.errors = errors.0.iter().map(|e| e.to_string()).collect();
                return self.refused(answer);
            }
        };
        let moved = !fresh.is_empty() || current.clusters.len() != config.clusters.len();
        if self.coordinated && moved {
            answer.errors.push(format!(
                "{}: the clusters of a collector that shares them through coordination change \
                 at a restart (its share is computed over the clusters it joined with)",
                self.file.display()
            ));
            return self.refused(answer);
        }
        let moves = self
            .listeners
            .bind(
                &config,
                self.role,
                &current.listen,
                current.metrics_listen.as_deref(),
            )
            .await;
        let moves = match moves {
            Ok(moves) => moves,
            Err(errors) => {
                answer.errors = errors.iter().map(|e| e.to_string()).collect();
                return self.refused(answer);
            }
        };
        // Checked: from here on, it applies.
        let removed: Vec<&Cluster> = current
            .clusters
            .iter()
            .filter(|c| !new_ids.contains(c.id.as_str()))
            .collect();
        for cluster in &removed {
            self.remove(cluster).await;
            answer.removed.push(cluster.id.clone());
        }
        {
            let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
            for cluster in &fresh {
                let runner = Arc::clone(&runners[&cluster.id]);
                self.live.set_runner(&cluster.id, Arc::clone(&runner));
                let slot = match old.get(cluster.id.as_str()) {
                    Some(before) => {
                        answer.changed.push(cluster.id.clone());
                        let keep = before.connector == cluster.connector;
                        self.store.renew_cluster(info(cluster), keep)
                    }
                    None => {
                        answer.added.push(cluster.id.clone());
                        self.store.add_cluster(info(cluster))
                    }
                };
                agents.insert(Agent {
                    slot,
                    runner,
                    jitter: cluster.jitter,
                    initial_delay: cluster.initial_delay,
                    rules: Arc::clone(&cluster.rules),
                });
            }
            if !self.coordinated {
                let ids: Vec<Arc<str>> = config
                    .clusters
                    .iter()
                    .map(|c| c.id.as_str().into())
                    .collect();
                agents.run_only(&ids);
            }
        }
        if let Some(share) = &self.share {
            let ids = config.clusters.iter().map(|c| Arc::from(c.id.as_str()));
            share.send_replace(Arc::new(ids.collect()));
        }
        self.live.set_registry(Arc::new(registry));
        if self.role.collects() {
            self.live.set_refusals(refusals.into());
        }
        if let Some(collectors) = &self.collectors {
            collectors.set_local(self.live.cluster_ids());
        }
        answer.listeners = self.listeners.apply(moves).await;
        if level != current.log_level {
            match crate::logging::set_filter(&level) {
                Ok(()) => {
                    answer
                        .settings
                        .push(format!("log_level: {} -> {level}", current.log_level));
                    current.log_level = level;
                }
                Err(e) => answer.notes.push(format!("log_level: {e}")),
            }
        } else if let (Some(flag), Some(file)) = (&self.log_flag, &config.log_level)
            && flag != file
        {
            answer.notes.push(format!(
                "log_level: --log-level (DBMON_LOG) sets the filter ({flag}); the file's \
                 '{file}' applies when the flag is not given"
            ));
        }
        current.clusters = config.clusters;
        current.listen = config.listen;
        // What serves, should opening the HTTP listener have failed.
        current.metrics_listen = config
            .metrics_listen
            .filter(|_| self.listeners.metrics_open());
        tracing::info!(
            "reloaded {}: {} added, {} removed, {} changed, {} connectors loaded",
            self.file.display(),
            answer.added.len(),
            answer.removed.len(),
            answer.changed.len(),
            answer.loaded.len()
        );
        for note in &answer.notes {
            tracing::warn!("reload: {note}");
        }
        answer
    }

    fn refused(&self, answer: admin::ReloadResponse) -> admin::ReloadResponse {
        tracing::error!(
            "reload refused; the running configuration stays:\n{}",
            answer.errors.join("\n")
        );
        answer
    }

    /// Stops a removed cluster's agent and records a final report saying why.
    async fn remove(&self, cluster: &Cluster) {
        self.agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&cluster.id);
        self.live.remove_runner(&cluster.id);
        let Some(slot) = self.store.cluster(&cluster.id) else {
            return;
        };
        let last = Collection {
            sequence: slot.last_sequence() + 1,
            started_at: SystemTime::now(),
            duration: Duration::ZERO,
            outcome: Outcome::Failed("removed from the configuration by a reload".into()),
            origin: None,
        };
        if let Err(e) = slot.record(last).await {
            tracing::warn!(cluster = %cluster.id, "the removal report was not stored: {e}");
        }
    }
}

/// Whether a reload leaves a cluster as it is: the same connector, configuration (endpoints,
/// schedule, TLS, auth, options as the connector receives them), isolation, start offsets and
/// verdict rules.
fn same(a: &Cluster, b: &Cluster) -> bool {
    a.connector == b.connector
        && a.isolation == b.isolation
        && a.jitter == b.jitter
        && a.initial_delay == b.initial_delay
        && a.rules == b.rules
        && a.connector_json() == b.connector_json()
}

fn info(c: &Cluster) -> ClusterInfo {
    ClusterInfo {
        id: c.id.as_str().into(),
        connector: c.connector.as_str().into(),
        endpoints: c.endpoints.clone(),
        interval: c.interval,
        timeout: c.timeout,
    }
}

/// Runs a reload for each request (SIGHUP, the file watcher) until the host stops.
pub(super) async fn follow_requests(
    reloader: Arc<Reloader>,
    mut requests: tokio::sync::mpsc::Receiver<()>,
) {
    while requests.recv().await.is_some() {
        reloader.reload().await;
    }
}

/// Asks for a reload whenever the file's modification time or size changes (looked at every
/// 2 s): `watch_config: true`.
pub(super) async fn watch_file(file: PathBuf, requests: tokio::sync::mpsc::Sender<()>) {
    let stamp = |file: &PathBuf| {
        std::fs::metadata(file)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut last = stamp(&file);
    let mut every = tokio::time::interval(Duration::from_secs(2));
    loop {
        every.tick().await;
        let now = stamp(&file);
        if now != last {
            last = now;
            tracing::info!("{} changed: reloading", file.display());
            let _ = requests.try_send(());
        }
    }
}

/// `dbmon.admin.v1.Admin`: the reload, for `dbmon reload`.
pub(super) struct AdminService(pub Arc<Reloader>);

#[tonic::async_trait]
impl admin::admin_server::Admin for AdminService {
    async fn reload(
        &self,
        _: tonic::Request<admin::ReloadRequest>,
    ) -> Result<tonic::Response<admin::ReloadResponse>, tonic::Status> {
        Ok(tonic::Response::new(self.0.reload().await))
    }
}
