//! What a reload may change while the host runs: the loaded connectors, the libraries the
//! last look at the plugins folder refused, and each cluster's runner. The client API, the
//! collector's commands and the reload share one [`Live`]; each reader takes a snapshot (an
//! `Arc`) and never holds the lock across an await.

use crate::{
    plugins::{Refusal, Registry},
    runner::Runner,
};
use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

/// The connectors and runners in use now.
#[derive(Default)]
pub struct Live {
    registry: RwLock<Arc<Registry>>,
    refusals: RwLock<Arc<[Refusal]>>,
    runners: RwLock<HashMap<Arc<str>, Arc<Runner>>>,
}

impl Live {
    /// These connectors, refused libraries and runners.
    pub fn new(
        registry: Arc<Registry>,
        refusals: Arc<[Refusal]>,
        runners: HashMap<String, Arc<Runner>>,
    ) -> Live {
        Live {
            registry: RwLock::new(registry),
            refusals: RwLock::new(refusals),
            runners: RwLock::new(
                runners
                    .into_iter()
                    .map(|(id, r)| (Arc::from(id), r))
                    .collect(),
            ),
        }
    }

    /// The connectors loaded now.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the connectors (a reload loaded more).
    pub fn set_registry(&self, registry: Arc<Registry>) {
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = registry;
    }

    /// The libraries the last look at the plugins folder refused (at the start, or by the
    /// last reload applied).
    pub fn refusals(&self) -> Arc<[Refusal]> {
        Arc::clone(&self.refusals.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the refused libraries.
    pub fn set_refusals(&self, refusals: Arc<[Refusal]>) {
        *self.refusals.write().unwrap_or_else(|p| p.into_inner()) = refusals;
    }

    /// The runner of cluster `id`, when this host collects it.
    pub fn runner(&self, id: &str) -> Option<Arc<Runner>> {
        let runners = self.runners.read().unwrap_or_else(|p| p.into_inner());
        runners.get(id).cloned()
    }

    /// The ids of the clusters this host collects.
    pub fn cluster_ids(&self) -> Vec<Arc<str>> {
        let runners = self.runners.read().unwrap_or_else(|p| p.into_inner());
        runners.keys().cloned().collect()
    }

    /// Sets (or replaces) the runner of cluster `id`.
    pub fn set_runner(&self, id: &str, runner: Arc<Runner>) {
        let mut runners = self.runners.write().unwrap_or_else(|p| p.into_inner());
        runners.insert(id.into(), runner);
    }

    /// Forgets the runner of cluster `id` (it is no longer collected here).
    pub fn remove_runner(&self, id: &str) -> Option<Arc<Runner>> {
        let mut runners = self.runners.write().unwrap_or_else(|p| p.into_inner());
        runners.remove(id)
    }
}
