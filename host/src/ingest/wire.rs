//! A pushed report back into the host's form: the strings of a `dbmon.v1.Report` laid into
//! one text with ranges, as a connector's report arrives (`store::SchemaParts`), checked by
//! the same `Collected::new`. The collector is not trusted to send well-formed reports.

use crate::store::{
    Collected, LabelDef, MetricKind, NodeDef, Outcome, SchemaParts, SeriesDef, Span,
};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_proto as proto;
use std::time::{Duration, SystemTime};

/// What a pushed report says about its collection.
#[derive(Debug)]
pub struct Pushed {
    /// When the collection started, on the collector's clock.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// What came of it.
    pub outcome: Outcome,
}

/// Reads a pushed report; an error says what is wrong with it.
pub fn pushed(report: proto::Report) -> Result<Pushed, String> {
    let started_at = match report.collected_at {
        Some(t) => SystemTime::try_from(t).map_err(|e| format!("collected_at: {e}"))?,
        None => return Err("collected_at is missing".into()),
    };
    let duration = report
        .duration
        .map(Duration::try_from)
        .transpose()
        .map_err(|e| format!("duration: {e}"))?
        .unwrap_or_default();
    let outcome = match report.error {
        Some(error) => Outcome::Failed(error),
        None => Outcome::Collected(collected(report)?),
    };
    Ok(Pushed {
        started_at,
        duration,
        outcome,
    })
}

fn collected(report: proto::Report) -> Result<Collected, String> {
    let status = status(report.status());
    let mut parts = Parts::default();
    let mut values = Vec::with_capacity(report.metrics.len());
    for metric in &report.metrics {
        parts.series(metric, 0);
        values.push(metric.value);
    }
    let mut node_status = Vec::with_capacity(report.nodes.len());
    for (index, node) in report.nodes.iter().enumerate() {
        let id = parts.text(&node.id);
        let address = parts.text(&node.address);
        let labels = parts.labels(&node.labels);
        parts.0.nodes.push(NodeDef {
            id,
            address,
            labels,
        });
        node_status.push(node_state(node.status()));
        for metric in &node.metrics {
            parts.series(metric, index as u32 + 1);
            values.push(metric.value);
        }
    }
    parts.0.report_labels = parts.labels(&report.labels);
    let fired = report
        .rules
        .iter()
        .map(|f| crate::rules::Fired {
            rule: f.rule.as_str().into(),
            status: self::status(f.status()),
            reason: f.reason.clone(),
            places: f.places.max(1),
        })
        .collect();
    let mut collected = Collected::new(
        status,
        report.reasons,
        parts.0,
        values.into(),
        node_status.into(),
    )?;
    collected.set_fired(fired);
    Ok(collected)
}

/// Schema parts being laid out.
#[derive(Default)]
struct Parts(SchemaParts);

impl Parts {
    fn text(&mut self, s: &str) -> Span {
        let start = self.0.text.len() as u32;
        self.0.text.push_str(s);
        Span::new(start, s.len() as u32)
    }

    fn labels(&mut self, labels: &[proto::Label]) -> Span {
        let start = self.0.labels.len() as u32;
        for label in labels {
            let key = self.text(&label.key);
            let value = self.text(&label.value);
            self.0.labels.push(LabelDef { key, value });
        }
        Span::new(start, labels.len() as u32)
    }

    fn series(&mut self, metric: &proto::Metric, node: u32) {
        let name = self.text(&metric.name);
        let unit = self.text(&metric.unit);
        let help = self.text(&metric.help);
        let labels = self.labels(&metric.labels);
        self.0.series.push(SeriesDef {
            name,
            unit,
            help,
            labels,
            node,
            kind: kind(metric.kind()),
        });
    }
}

fn status(s: proto::Status) -> Status {
    match s {
        proto::Status::Healthy => Status::Healthy,
        proto::Status::Degraded => Status::Degraded,
        proto::Status::Unhealthy => Status::Unhealthy,
        proto::Status::Unreachable => Status::Unreachable,
        _ => Status::Unknown,
    }
}

fn node_state(s: proto::NodeStatus) -> NodeStatus {
    match s {
        proto::NodeStatus::Live => NodeStatus::Live,
        proto::NodeStatus::Draining => NodeStatus::Draining,
        proto::NodeStatus::Decommissioning => NodeStatus::Decommissioning,
        proto::NodeStatus::Decommissioned => NodeStatus::Decommissioned,
        proto::NodeStatus::Dead => NodeStatus::Dead,
        proto::NodeStatus::Initializing => NodeStatus::Initializing,
        proto::NodeStatus::Unavailable => NodeStatus::Unavailable,
        _ => NodeStatus::Unknown,
    }
}

fn kind(k: proto::MetricKind) -> MetricKind {
    match k {
        proto::MetricKind::Gauge => MetricKind::Gauge,
        proto::MetricKind::Counter => MetricKind::Counter,
        proto::MetricKind::Histogram => MetricKind::Histogram,
        proto::MetricKind::Summary => MetricKind::Summary,
        proto::MetricKind::Unspecified => MetricKind::Unknown,
    }
}
