//! The `cockroachdb` connector: reads every node's `/_status/vars` and `/health?ready=1` (and,
//! with credentials, the nodes API for liveness) at once, and reports node counts, ranges,
//! capacity, memory, SQL rate, heartbeat latency and clock offsets with a health verdict.
//!
//! Modules in the order data flows: options → fetch (HTTP) and api (login, node list) →
//! vars (parse) → history (rates) → cluster (one view) → figures → verdict and output (the
//! report); commands reuse the same path.

mod api;
mod cluster;
mod commands;
mod fetch;
mod figures;
mod history;
mod options;
mod output;
mod vars;
mod verdict;

pub use options::{
    DEFAULT_CAPACITY_DEGRADED_PERCENT, DEFAULT_CAPACITY_UNHEALTHY_PERCENT,
    DEFAULT_CLOCK_OFFSET_DEGRADED_PERCENT, DEFAULT_MAX_OFFSET, Options,
};
pub use vars::{NodeVars, VarsError, parse as parse_vars};

use api::Api;
use cluster::Cluster;
use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandInfo, ConfigError, Connector, ConnectorInfo, Error,
    Report, export_connector,
};
use dbmon_scrape::Client;
use history::History;
use options::Settings;
use std::{
    sync::{Mutex, PoisonError},
    time::Instant,
};

/// One CockroachDB cluster.
pub struct CockroachDb {
    settings: Settings,
    client: Client,
    api: Option<Api>,
    /// The previous collection's counters; never held across an await.
    history: Mutex<History>,
}

impl CockroachDb {
    /// Asks every endpoint and the nodes API at once, and puts the answers together. Only a
    /// collection (`update`) moves the rates' baseline; commands leave it alone.
    async fn gather(&self, deadline: Instant, update: bool) -> Cluster {
        let probes = fetch::probe_all(&self.client, &self.settings, deadline);
        let max = self.settings.max_body_bytes;
        let listed = async {
            match &self.api {
                Some(api) => Some(
                    api.nodes(&self.client, &self.settings.endpoints, deadline, max)
                        .await,
                ),
                None => None,
            }
        };
        let (probes, listed) = futures::join!(probes, listed);
        // A panic elsewhere must not make every later collection panic on a poisoned lock.
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        cluster::assemble(&self.settings, probes, listed, &mut history, update)
    }

    /// The error of a collection in which no endpoint could be read.
    fn nobody_answered(&self, cluster: &Cluster) -> Error {
        let failures: Vec<String> = cluster
            .nodes
            .iter()
            .filter_map(|n| {
                let endpoint = &self.settings.endpoints[n.endpoint?];
                Some(format!("{}: {}", endpoint.url, n.failure.as_ref()?))
            })
            .collect();
        format!("no endpoint answered: {}", failures.join("; ")).into()
    }
}

impl Connector for CockroachDb {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "cockroachdb",
            version: env!("CARGO_PKG_VERSION"),
            description: "CockroachDB: liveness, ranges, capacity, SQL rate, clock offsets",
            commands: vec![
                CommandInfo {
                    name: "health",
                    description: "each endpoint's /health and /health?ready=1",
                },
                CommandInfo {
                    name: "nodes",
                    description: "every node: id, address, liveness, version, ranges, capacity",
                },
                CommandInfo {
                    name: "info",
                    description: "the cluster's version, node count and endpoints",
                },
            ],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let client = dbmon_scrape::client(config.tls.as_ref())?;
        let api = settings.credentials.clone().map(Api::new);
        Ok(CockroachDb {
            settings,
            client,
            api,
            history: Mutex::new(History::default()),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let cluster = self.gather(ctx.deadline, true).await;
        if cluster.answering().next().is_none() {
            return Err(self.nobody_answered(&cluster));
        }
        let figures = figures::figures(&cluster);
        let mut report = Report::with_capacity(64 + 24 * cluster.nodes.len(), 4096);
        output::write(&mut report, &cluster, &figures);
        let findings = verdict::findings(&self.settings, &cluster, &figures);
        verdict::judge(&mut report, findings);
        tracing::debug!(
            sequence = ctx.sequence,
            nodes = cluster.nodes.len(),
            answering = cluster.answering().count(),
            status = report.status().as_str(),
            "collected"
        );
        Ok(report)
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        ctx: &CollectContext,
    ) -> Result<String, Error> {
        if !args.is_empty() {
            return Err(format!("{command} takes no arguments; got {}", args.join(" ")).into());
        }
        match command {
            "health" => Ok(commands::health(&self.client, &self.settings, ctx.deadline).await),
            "nodes" => Ok(commands::nodes(&self.gather(ctx.deadline, false).await)),
            "info" => Ok(commands::info(
                &self.settings,
                &self.gather(ctx.deadline, false).await,
            )),
            other => {
                Err(format!("unknown command '{other}'; commands: health, nodes, info").into())
            }
        }
    }
}

export_connector!(CockroachDb);
