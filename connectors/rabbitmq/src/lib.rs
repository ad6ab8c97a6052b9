//! The `rabbitmq` connector: a RabbitMQ cluster through the management API of its nodes
//! (`/api/overview`, `/api/nodes`, `/api/queues`, `/api/health/checks/alarms`): nodes running or
//! not, memory and disk alarms, network partitions, the largest queues with their ready and
//! unacknowledged messages and consumers, connections.
//!
//! Modules in the order data flows: options → client (HTTP, basic authentication) → api
//! (RabbitMQ's answers) → gather (the questions of one collection) → view (nodes and their
//! endpoints) → verdict and output (the report); commands reuse the same path.

mod api;
mod client;
mod commands;
mod gather;
mod options;
mod output;
mod verdict;
mod view;

pub use options::{
    DEFAULT_MAX_QUEUES, DEFAULT_READY_WITHOUT_CONSUMERS_DEGRADED, MAX_QUEUES_LIMIT, Options,
};

use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandError, CommandInfo, ConfigError, Connector,
    ConnectorInfo, Error, Report, export_connector,
};
use gather::Gathered;
use options::Settings;
use std::time::Instant;

/// One RabbitMQ cluster.
pub struct RabbitMq {
    settings: Settings,
    api: client::Api,
    /// Which node each endpoint answered as, across collections.
    known: view::Known,
}

impl RabbitMq {
    /// Asks the cluster; an error naming every failure when no endpoint answers.
    async fn gather(&self, deadline: Instant) -> Result<Gathered, Error> {
        let settings = &self.settings;
        let gathered = gather::gather(
            &self.api,
            &settings.endpoints,
            settings.max_queues,
            deadline,
        )
        .await;
        if gathered.asked.is_none() {
            let failures: Vec<String> = gathered
                .probes
                .iter()
                .filter_map(|p| p.overview.as_ref().err().cloned())
                .collect();
            return Err(format!("no endpoint could be read: {}", failures.join("; ")).into());
        }
        self.known.learn(&gathered);
        Ok(gathered)
    }
}

impl Connector for RabbitMq {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "rabbitmq",
            version: env!("CARGO_PKG_VERSION"),
            description: "RabbitMQ through its management API: nodes, alarms, partitions, queues, connections",
            commands: vec![
                CommandInfo {
                    name: "nodes",
                    description: "every node: status, endpoint, memory, disk free, alarms, partitions",
                },
                CommandInfo {
                    name: "queues",
                    description: "the largest queues (max_queues): messages, ready, unacked, consumers",
                },
            ],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let http = dbmon_scrape::client(config.tls.as_ref())?;
        let api = client::Api::new(http, settings.login.clone());
        Ok(RabbitMq {
            settings,
            api,
            known: view::Known::default(),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let gathered = self.gather(ctx.deadline).await?;
        let view = view::View::new(&gathered, &self.known);
        let alarms = verdict::alarms(&view, &gathered);
        let mut report = Report::with_capacity(32 + 20 * view.nodes.len(), 4096);
        output::write(&mut report, &view, &gathered, alarms.len());
        verdict::judge(&mut report, &view, &gathered, &self.settings);
        tracing::debug!(
            sequence = ctx.sequence,
            user = self.api.user(),
            nodes = view.nodes.len(),
            alarms = alarms.len(),
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
        if !matches!(command, "nodes" | "queues") {
            return Err(CommandError::unknown(command).into());
        }
        if !args.is_empty() {
            let why = format!("{command} takes no arguments; got {}", args.join(" "));
            return Err(CommandError::bad_arguments(why).into());
        }
        let gathered = self.gather(ctx.deadline).await?;
        match command {
            "nodes" => Ok(commands::nodes(&view::View::new(&gathered, &self.known))),
            _ => Ok(commands::queues(&gathered)?),
        }
    }
}

export_connector!(RabbitMq);
