//! The `http` connector: anything with an HTTP API, from YAML alone. Each cluster lists its
//! endpoints (one node each) and the requests to send them; `extract` rules turn the answers
//! (JSON, text or Prometheus text) into metrics, a `node_status` rule into node statuses, and a
//! failed request makes its node dead.
//!
//! Modules in the order data flows: options (as written) → plan (checked: selector, env,
//! extract and status rules) → fetch (one request to one node) → read (the body through the
//! request's rules) → report (series, statuses, verdict).

mod env;
mod extract;
mod fetch;
mod options;
mod plan;
mod read;
mod report;
mod selector;
mod status;

pub use options::{
    DEFAULT_MAX_BODY_BYTES, ExtractOptions, Format, Kind, NodeStatusOptions, Options,
    RequestOptions, Scope,
};
pub use plan::RESERVED_NAMES;

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, Report,
    export_connector,
};
use dbmon_scrape::Client;
use plan::{Plan, Target};
use report::Outcome;
use std::sync::Arc;

/// One cluster: its checked plan and its HTTP client.
pub struct Http {
    plan: Arc<Plan>,
    client: Client,
}

impl Connector for Http {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "http",
            version: env!("CARGO_PKG_VERSION"),
            description: "anything with an HTTP API: requests, JSONPath/JSON Pointer extraction, node status rules",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let plan = plan::plan(&config)?;
        let client = dbmon_scrape::client(config.tls.as_ref())?;
        Ok(Http {
            plan: Arc::new(plan),
            client,
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let plan = &self.plan;
        let mut sends = Vec::new();
        for (index, request) in plan.requests.iter().enumerate() {
            let targets: Vec<(usize, String)> = match &request.target {
                Target::Path(path) => plan
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.endpoint)
                    .map(|(i, n)| (i, format!("{}{path}", n.id)))
                    .collect(),
                Target::Url { url, node } => vec![(*node, url.clone())],
            };
            for (node, url) in targets {
                sends.push(async move {
                    let result = fetch::fetch(&self.client, plan, index, &url, ctx.deadline).await;
                    if let Err(failure) = &result {
                        tracing::debug!(%url, request = %request.label, why = %failure.why, "request failed");
                    }
                    Outcome {
                        request: (index, request),
                        node,
                        result,
                    }
                });
            }
        }
        let outcomes = futures::future::join_all(sends).await;
        report::write(plan, &outcomes)
    }
}

export_connector!(Http);
