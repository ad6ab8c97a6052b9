//! The alerts as Alertmanager's API v2 takes them (`POST /api/v2/alerts`, a JSON array);
//! webhooks get the same body.

use dbmon_connector_api::Status;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

/// One alert of the array.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// `alertname`, `cluster`, `connector`, `severity`: what Alertmanager groups and
    /// deduplicates by.
    pub labels: BTreeMap<&'static str, String>,
    /// `summary` and `description` (the verdict's reasons).
    pub annotations: BTreeMap<&'static str, String>,
    /// When the verdict started (its first report), RFC 3339.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When it ends: now for a resolved alert; for a firing one a little past the next
    /// resends, so that it ends by itself if this host goes away.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// The cluster's page on this host's status page, with `alerts.external_url`.
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
}

/// The alert's name of a verdict.
pub fn alert_name(status: Status) -> &'static str {
    match status {
        Status::Degraded => "DbmonClusterDegraded",
        Status::Unhealthy => "DbmonClusterUnhealthy",
        Status::Unreachable => "DbmonClusterUnreachable",
        _ => "DbmonClusterUnknown",
    }
}

/// `warning` for a degraded cluster, `critical` for one unhealthy or unreachable.
pub fn severity(status: Status) -> &'static str {
    match status {
        Status::Degraded => "warning",
        _ => "critical",
    }
}

/// The verdict in words.
pub fn verdict(status: Status) -> &'static str {
    match status {
        Status::Healthy => "healthy",
        Status::Degraded => "degraded",
        Status::Unhealthy => "unhealthy",
        Status::Unreachable => "unreachable",
        _ => "unknown",
    }
}

/// What one alert says.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// Its connector.
    pub connector: &'a str,
    /// The verdict alerted on.
    pub status: Status,
    /// Why (the newest report's reasons).
    pub reasons: &'a [String],
    /// When the verdict started.
    pub starts_at: SystemTime,
    /// `alerts.external_url`.
    pub external_url: Option<&'a str>,
}

impl Facts<'_> {
    /// The alert, ending at `ends_at`.
    pub fn alert(&self, ends_at: SystemTime) -> Alert {
        let labels = BTreeMap::from([
            ("alertname", alert_name(self.status).to_string()),
            ("cluster", self.cluster.to_string()),
            ("connector", self.connector.to_string()),
            ("severity", severity(self.status).to_string()),
        ]);
        let description = if self.reasons.is_empty() {
            format!("the connector gave no reason for {}", verdict(self.status))
        } else {
            self.reasons.join("; ")
        };
        let annotations = BTreeMap::from([
            (
                "summary",
                format!("cluster {} is {}", self.cluster, verdict(self.status)),
            ),
            ("description", description),
        ]);
        Alert {
            labels,
            annotations,
            starts_at: rfc3339(self.starts_at),
            ends_at: rfc3339(ends_at),
            generator_url: self
                .external_url
                .map(|base| format!("{base}/cluster/{}", path_segment(self.cluster))),
        }
    }
}

/// How long a firing alert stays firing without news: as Prometheus does, four resends.
pub fn firing_for(resend: Duration) -> Duration {
    resend * 4
}

/// `t` as RFC 3339 in UTC, with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A cluster id as one URL path segment.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}
