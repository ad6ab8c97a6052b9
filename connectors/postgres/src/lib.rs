//! The `postgres` connector: connects to each PostgreSQL server of a cluster (a primary and its
//! streaming replicas), reports their role, connections, sizes, replication lag and transaction
//! ID wraparound, and judges the whole: one primary, its replicas streaming, nothing near a limit.

mod activity;
mod connection;
mod endpoint;
mod options;
mod probe;
mod sniff;
mod tls;
mod verdict;

pub use endpoint::DEFAULT_PORT;
pub use options::{
    DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT, DEFAULT_DATABASE,
    DEFAULT_REPLICATION_LAG_BYTES_DEGRADED, DEFAULT_REPLICATION_LAG_SECONDS_DEGRADED, DEFAULT_USER,
    DEFAULT_XID_WRAPAROUND_DEGRADED_PERCENT, Options,
};
pub use verdict::XID_WRAPAROUND_LIMIT;

use connection::{Login, Node};
use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandInfo, ConfigError, Connector, ConnectorInfo, Error,
    Report, export_connector,
};

/// One PostgreSQL cluster: its nodes, each with its kept connection.
pub struct Postgres {
    nodes: Vec<Node>,
    login: Login,
    options: Options,
}

impl Connector for Postgres {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "postgres",
            version: env!("CARGO_PKG_VERSION"),
            description: "PostgreSQL primary and streaming replicas: roles, connections, sizes, \
                          replication lag, wraparound",
            commands: vec![CommandInfo {
                name: "activity",
                description: "the longest-running statements of each node (activity [ROWS], \
                              default 20)",
            }],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let login = Login {
            user: settings.user,
            password: settings.password,
            tls: tls::connector(config.tls.as_ref())?,
            statement_timeout_ms: settings.statement_timeout_ms,
        };
        Ok(Postgres {
            nodes: settings.endpoints.into_iter().map(Node::new).collect(),
            login,
            options: settings.options,
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let asks = self.nodes.iter().map(|node| {
            node.run(&self.login, ctx.deadline, |session| async move {
                probe::facts(&session.client, &session.statements).await
            })
        });
        let results = futures::future::join_all(asks).await;
        let answers: Vec<verdict::Answer<'_>> = self
            .nodes
            .iter()
            .map(|n| &n.endpoint)
            .zip(results)
            .collect();
        verdict::report(&self.options, &answers)
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        ctx: &CollectContext,
    ) -> Result<String, Error> {
        if command != "activity" {
            return Err(format!(
                "unknown command '{command}'; the postgres connector has: activity"
            )
            .into());
        }
        let limit = activity::limit(args)?;
        let asks = self.nodes.iter().map(|node| {
            node.run(&self.login, ctx.deadline, move |session| async move {
                probe::activity(&session.client, &session.statements, limit).await
            })
        });
        let results = futures::future::join_all(asks).await;
        if results.iter().all(Result::is_err) {
            let failures: Vec<String> = self
                .nodes
                .iter()
                .zip(&results)
                .filter_map(|(n, r)| {
                    r.as_ref()
                        .err()
                        .map(|e| format!("node {}: {e}", n.endpoint.address))
                })
                .collect();
            return Err(failures.join("; ").into());
        }
        let sections: Vec<String> = self
            .nodes
            .iter()
            .zip(&results)
            .map(|(n, r)| activity::section(&n.endpoint.address, r))
            .collect();
        Ok(sections.join("\n"))
    }
}

export_connector!(Postgres);
