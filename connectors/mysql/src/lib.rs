//! The `mysql` connector: logs in to each MySQL or MariaDB server of a cluster (standalone
//! servers, a source and its replicas, Galera nodes), reports connections, throughput, InnoDB's
//! buffer pool, replication and Galera state, and judges the whole.

// In the order data flows: options and endpoints → connections → one round of queries per
// server → figures (replication channels, Galera state, rates) → metrics → verdict; and the
// command.
mod connection;
mod endpoint;
mod figures;
mod galera;
mod options;
mod probe;
mod processlist;
mod rates;
mod replication;
mod report;
mod tls;
mod verdict;

pub use endpoint::DEFAULT_PORT;
pub use options::{
    DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT, DEFAULT_REPLICATION_SECONDS_BEHIND_DEGRADED,
    DEFAULT_USER, Options,
};
pub use processlist::{DEFAULT_ROWS as PROCESSLIST_DEFAULT_ROWS, MAX_ROWS as PROCESSLIST_MAX_ROWS};

use connection::{Connect, Node};
use dbmon_connector_api::{
    ClusterConfig, CollectContext, CommandError, CommandInfo, ConfigError, Connector,
    ConnectorInfo, Error, Report, export_connector,
};
use figures::Figures;
use rates::Samples;

/// One MySQL or MariaDB cluster: its nodes with their kept connections, and the counters of
/// the previous collection.
pub struct Mysql {
    nodes: Vec<Node>,
    connect: Connect,
    options: Options,
    samples: Samples,
}

impl Connector for Mysql {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "mysql",
            version: env!("CARGO_PKG_VERSION"),
            description: "MySQL and MariaDB servers, replicas and Galera nodes: connections, \
                          queries, InnoDB buffer pool, replication, Galera state",
            commands: vec![CommandInfo {
                name: "processlist",
                description: "each node's threads, longest in their state first \
                              (processlist [ROWS], default 20)",
            }],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let connect = Connect {
            login: settings.login,
            ssl: tls::ssl_opts(config.tls.as_ref())?,
        };
        Ok(Mysql {
            nodes: settings.endpoints.into_iter().map(Node::new).collect(),
            connect,
            options: settings.options,
            samples: Samples::default(),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let asks = self.nodes.iter().map(|node| {
            node.run(&self.connect, ctx.deadline, |conn| {
                Box::pin(probe::answer(conn))
            })
        });
        let results = futures::future::join_all(asks).await;
        let answers: Vec<report::Answered<'_>> = self
            .nodes
            .iter()
            .zip(results)
            .map(|(node, result)| {
                let address = &node.endpoint.address;
                let figures = result.map(|answer| {
                    let since = self.samples.update(address, Figures::sample(&answer));
                    Figures::of(&answer, since)
                });
                (&node.endpoint, figures)
            })
            .collect();
        report::build(&self.options, &answers)
    }

    async fn run_command(
        &self,
        command: &str,
        args: &[String],
        ctx: &CollectContext,
    ) -> Result<String, Error> {
        if command != "processlist" {
            return Err(CommandError::unknown(command).into());
        }
        let limit = processlist::rows(args)?;
        let asks = self.nodes.iter().map(|node| {
            node.run(&self.connect, ctx.deadline, move |conn| {
                Box::pin(probe::processlist(conn, limit))
            })
        });
        let results = futures::future::join_all(asks).await;
        if results.iter().all(Result::is_err) {
            let failures: Vec<String> = self
                .nodes
                .iter()
                .zip(&results)
                .filter_map(|(n, r)| {
                    let e = r.as_ref().err()?;
                    Some(format!("node {}: {e}", n.endpoint.address))
                })
                .collect();
            return Err(failures.join("; ").into());
        }
        let sections: Vec<String> = self
            .nodes
            .iter()
            .zip(&results)
            .map(|(n, listed)| processlist::section(&n.endpoint.address, listed))
            .collect();
        Ok(sections.join("\n"))
    }
}

export_connector!(Mysql);
