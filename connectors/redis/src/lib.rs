//! The `redis` connector: a standalone Redis server (or several, a master and its replicas) or
//! a whole Redis Cluster discovered from any listed node, with memory, clients, throughput,
//! replication lag and slot coverage, and a verdict from the cluster's own view of its nodes.

// In the order data flows: options → connections → one survey of the nodes (parsing INFO
// and the cluster's view) → the nodes put together → metrics → verdict; and the command.
mod cluster;
mod conn;
mod info;
mod options;
mod probe;
mod report;
mod slowlog;
mod tls;
mod topology;
mod verdict;

#[cfg(test)]
mod tests;

pub use options::{
    DEFAULT_MEMORY_USED_DEGRADED_PERCENT, DEFAULT_MIN_REPLICAS_PER_MASTER, DEFAULT_PORT, Options,
};
pub use slowlog::{DEFAULT_ENTRIES as SLOWLOG_DEFAULT_ENTRIES, MAX_ENTRIES as SLOWLOG_MAX_ENTRIES};

use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandError, CommandInfo, ConfigError, Connector,
    ConnectorInfo, Error, Report, export_connector,
};
use options::Settings;

/// One cluster's monitor: its settings and the connections it keeps between collections.
pub struct Redis {
    settings: Settings,
    pool: conn::Pool,
}

impl Connector for Redis {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "redis",
            version: env!("CARGO_PKG_VERSION"),
            description: "Redis standalone servers and Redis Cluster: slots, nodes, memory, \
                          clients, throughput, replication lag",
            commands: vec![CommandInfo {
                name: "slowlog",
                description: "SLOWLOG GET [N] (default 10) from every node, newest first",
            }],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let tls = match settings.tls {
            true => Some(tls::client_config(config.tls.as_ref())?),
            false => None,
        };
        let pool = conn::Pool::new(settings.credentials.as_ref(), tls);
        Ok(Redis { settings, pool })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let probes = probe::survey(&self.pool, &self.settings.endpoints, ctx.deadline).await;
        let topology = topology::assemble(&probes)?;
        let lags = report::lags(&topology);
        let mut report = Report::new();
        report::write(&mut report, &topology, &lags);
        verdict::judge(&mut report, &topology, &self.settings);
        Ok(report)
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        ctx: &CollectContext,
    ) -> Result<String, Error> {
        match command {
            "slowlog" => {
                let count = slowlog::entries(args).map_err(CommandError::bad_arguments)?;
                let endpoints = &self.settings.endpoints;
                Ok(slowlog::run(&self.pool, endpoints, count, ctx.deadline).await?)
            }
            other => Err(CommandError::unknown(other).into()),
        }
    }
}

export_connector!(Redis);
