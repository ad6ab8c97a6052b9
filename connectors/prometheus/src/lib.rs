//! The `prometheus` connector: scrapes any Prometheus or OpenMetrics text endpoint and reports
//! its samples as metrics, with `up`, `samples` and `scrape_duration_ms` per target.

mod options;
mod scrape;

pub use options::Options;

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, NodeStatus,
    Report, export_connector,
};
use dbmon_promtext::Format;
use dbmon_scrape::{Client, Fetched, header::ACCEPT};
use options::Settings;

/// One cluster's scraper.
pub struct Prometheus {
    settings: Settings,
    client: Client,
}

impl Connector for Prometheus {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "prometheus",
            version: env!("CARGO_PKG_VERSION"),
            description: "any Prometheus / OpenMetrics text endpoint",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        let settings = options::settings(&config)?;
        let client = dbmon_scrape::client(config.tls.as_ref())?;
        Ok(Prometheus { settings, client })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let targets = &self.settings.targets;
        let max = self.settings.max_body_bytes;
        // A slow target costs a reason, not everyone's samples: the SDK's deadline leaves the
        // time to build the report.
        let fetch_deadline = ctx.deadline;
        let fetches = targets.iter().map(|t| {
            // Asks for either text format, as Prometheus does; the answer's Content-Type then
            // says which grammar its body follows.
            let mut request = self
                .client
                .get(&t.url)
                .header(ACCEPT, dbmon_promtext::ACCEPT);
            if let Some(auth) = &self.settings.basic_auth {
                request = request.basic_auth(&auth.username, auth.password.as_deref());
            }
            dbmon_scrape::send(request, &t.url, fetch_deadline, max)
        });
        let results = futures::future::join_all(fetches).await;

        let capacity: usize = results.iter().flatten().map(|f| f.body.len()).sum();
        let mut report = Report::with_capacity(capacity / 48, capacity);
        let several = targets.len() > 1;
        let mut failures = Vec::new();
        let mut summary = Summary::default();
        for (target, result) in targets.iter().zip(results) {
            let url = target.url.as_str();
            let instance = several.then_some(url);
            let outcome = result
                .map_err(|e| e.to_string())
                .and_then(|fetched| scrape_target(&mut report, url, &fetched, self, instance));
            let node = report.node(url, NodeStatus::Live);
            report.node_address(node, &target.address);
            match outcome {
                Ok(target) => {
                    summary.add(&target);
                    report.node_metric(node, "up", 1.0);
                    report.node_metric(node, "samples", target.samples as f64);
                    report
                        .node_metric(node, "scrape_duration_ms", target.duration_ms)
                        .unit("ms");
                    if target.parse_errors > 0 {
                        let lines = if target.parse_errors == 1 {
                            "line"
                        } else {
                            "lines"
                        };
                        report.degraded(format!(
                            "{url}: {} {lines} could not be parsed ({})",
                            target.parse_errors, target.first_error
                        ));
                    }
                }
                Err(e) => {
                    report.node_status(node, NodeStatus::Unavailable);
                    report.node_metric(node, "up", 0.0);
                    failures.push(e);
                }
            }
        }
        if failures.len() == targets.len() {
            return Err(failures.join("; ").into());
        }
        for failure in failures {
            report.degraded(format!("target down: {failure}"));
        }
        let all_up = summary.up == targets.len();
        report.metric("up", if all_up { 1.0 } else { 0.0 });
        report.metric("targets", targets.len() as f64);
        report.metric("targets_up", summary.up as f64);
        report.metric("samples", summary.samples as f64);
        report.metric("samples_dropped", summary.dropped as f64);
        report
            .metric("scrape_duration_ms", summary.max_duration_ms)
            .unit("ms");
        Ok(report)
    }
}

/// What one target contributed.
struct Scraped {
    samples: usize,
    dropped: usize,
    parse_errors: usize,
    first_error: String,
    duration_ms: f64,
}

#[derive(Default)]
struct Summary {
    up: usize,
    samples: usize,
    dropped: usize,
    max_duration_ms: f64,
}

impl Summary {
    fn add(&mut self, t: &Scraped) {
        self.up += 1;
        self.samples += t.samples;
        self.dropped += t.dropped;
        self.max_duration_ms = self.max_duration_ms.max(t.duration_ms);
    }
}

fn scrape_target(
    report: &mut Report,
    url: &str,
    fetched: &Fetched,
    connector: &Prometheus,
    instance: Option<&str>,
) -> Result<Scraped, String> {
    if fetched.status != 200 {
        let excerpt: String = fetched.body.chars().take(200).collect();
        return Err(format!(
            "GET {url}: HTTP {}: {}",
            fetched.status,
            excerpt.trim()
        ));
    }
    let format = Format::from_content_type(&fetched.content_type);
    let parsed = scrape::append_samples(
        report,
        &fetched.body,
        format,
        &connector.settings.filter,
        instance,
    );
    if parsed.samples == 0 && parsed.dropped == 0 && parsed.errors > 0 {
        return Err(format!(
            "GET {url}: not Prometheus text: {}",
            parsed.first_error.unwrap_or_default()
        ));
    }
    Ok(Scraped {
        samples: parsed.samples,
        dropped: parsed.dropped,
        parse_errors: parsed.errors,
        first_error: parsed.first_error.unwrap_or_default(),
        duration_ms: fetched.elapsed.as_secs_f64() * 1e3,
    })
}

export_connector!(Prometheus);
