//! The `nats` connector: a NATS cluster through the monitoring endpoint of every server
//! (`/varz`, `/routez`, `/connz`, `/healthz`, `/jsz`): servers up, versions, connections, slow
//! consumers, memory, routes, JetStream streams and the lag of their consumers.
//!
//! Modules in the order data flows: options → fetch (HTTP, nats-server's answers in api) →
//! view (nodes, streams and consumers once each) → verdict (the health rules) and report
//! (metrics, nodes); history keeps what the previous collection saw.

mod api;
mod fetch;
mod history;
mod options;
mod report;
mod verdict;
mod view;

pub use options::{DEFAULT_CONSUMER_PENDING_DEGRADED, JetStream, Options};

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report,
    export_connector,
};
use history::{History, Seen};
use options::Settings;

/// One NATS cluster.
pub struct Nats {
    settings: Settings,
    fetcher: fetch::Fetcher,
    history: History,
}

impl Connector for Nats {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "nats",
            version: env!("CARGO_PKG_VERSION"),
            description: "a NATS cluster: servers, connections, slow consumers, routes, JetStream streams and consumer lag",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let http = dbmon_scrape::client(config.tls.as_ref())?;
        let fetcher = fetch::Fetcher {
            http,
            credentials: settings.credentials.clone(),
        };
        Ok(Nats {
            settings,
            fetcher,
            history: History::default(),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let endpoints = &self.settings.endpoints;
        let with_jsz = self.settings.jetstream != JetStream::Off;
        let probes = self
            .fetcher
            .probe_all(endpoints, with_jsz, ctx.deadline)
            .await;
        if probes.iter().all(|p| p.varz.is_err()) {
            let failures: Vec<&str> = probes
                .iter()
                .filter_map(|p| p.varz.as_ref().err().map(String::as_str))
                .collect();
            return Err(format!("no server answers: {}", failures.join("; ")).into());
        }
        let before = self.history.snapshot();
        let view = view::View::new(&probes, &before);
        let mut report = Report::new();
        verdict::judge(&mut report, &view, &self.settings);
        report::write(&mut report, &view);
        for probe in &probes {
            if let Some(varz) = probe.varz() {
                let seen = Seen {
                    name: view
                        .nodes
                        .iter()
                        .find(|n| n.probe.url == probe.url)
                        .map_or_else(|| varz.server_name.clone(), |n| n.id.clone()),
                    server_id: varz.server_id.clone(),
                    slow_consumers: varz.slow_consumers,
                };
                self.history.record(&probe.url, seen);
            }
        }
        tracing::debug!(
            sequence = ctx.sequence,
            nodes = probes.len(),
            streams = view.streams.len(),
            consumers = view.consumers.len(),
            "collected"
        );
        Ok(report)
    }
}

export_connector!(Nats);
