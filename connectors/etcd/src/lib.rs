//! The `etcd` connector: a multi-member etcd cluster through its JSON gateway (`/v3/...`),
//! `/health` and `/metrics` on every member's client URL: members and their health, leader,
//! quorum, raft progress, database size, alarms.
//!
//! Modules in the order data flows: options → client (HTTP, authentication) → api (etcd's
//! answers) → gather (the questions of one collection) → view (members and their condition)
//! → report (verdict, metrics, nodes).

mod api;
mod client;
mod gather;
mod options;
mod report;
mod view;

pub use options::{
    DEFAULT_DB_QUOTA_USED_DEGRADED_PERCENT, DEFAULT_RAFT_INDEX_SPREAD_DEGRADED, Options,
};

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report,
    export_connector,
};
use options::Settings;

/// One etcd cluster.
pub struct Etcd {
    settings: Settings,
    api: client::Api,
}

impl Connector for Etcd {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "etcd",
            version: env!("CARGO_PKG_VERSION"),
            description: "a multi-member etcd cluster: members, leader, quorum, raft, database size, alarms",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let http = dbmon_scrape::client(config.tls.as_ref())?;
        let api = client::Api::new(http, settings.credentials.clone());
        Ok(Etcd { settings, api })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let endpoints = &self.settings.endpoints;
        let session = self.api.session(endpoints, ctx.deadline).await;
        let gathered = gather::gather(&session, endpoints).await;
        let auth_failure = session.finish();
        if gathered.probes.iter().all(|p| p.answered().is_none()) {
            let mut failures: Vec<String> = auth_failure.into_iter().collect();
            failures.extend(
                gathered
                    .probes
                    .iter()
                    .filter_map(|p| p.status.clone().err()),
            );
            return Err(format!("no member answers: {}", failures.join("; ")).into());
        }
        let view = view::View::new(&gathered);
        let mut report = report::write(&view, &gathered.alarms, &self.settings);
        if let Err(e) = &gathered.members {
            report.degraded(format!("cannot read the member list: {e}"));
        }
        if let Some(failure) = auth_failure {
            report.degraded(failure);
        }
        Ok(report)
    }
}

export_connector!(Etcd);
