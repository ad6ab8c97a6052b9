//! The commands clients run with `dbmon run CLUSTER COMMAND`: plain-text tables.

use crate::cluster::Cluster;
use crate::fetch::{self, Health};
use crate::figures::used_percent;
use crate::options::Settings;
use crate::output;
use dbmon_scrape::Client;
use std::time::Instant;

use dbmon_connector_api::text::table;

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// `1.5 GiB`, `320 B`.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = value;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn answer(health: &Health) -> (String, String) {
    match health {
        Health::Ok { .. } => ("yes".into(), String::new()),
        Health::NotOk {
            status, message, ..
        } => ("no".into(), format!("HTTP {status}: {message}")),
        Health::Failed(cause) => ("-".into(), format!("not answering: {cause}")),
    }
}

/// `health`: each endpoint's `/health` (the process is up) and `/health?ready=1` (it takes
/// SQL clients).
pub async fn health(client: &Client, settings: &Settings, deadline: Instant) -> String {
    let max = settings.max_body_bytes;
    let checks = settings.endpoints.iter().map(|e| async move {
        let alive = e.at("/health");
        let ready = e.at("/health?ready=1");
        futures::join!(
            fetch::health(client, &alive, deadline, max),
            fetch::health(client, &ready, deadline, max)
        )
    });
    let answers = futures::future::join_all(checks).await;
    let mut rows = vec![row(&[
        "ENDPOINT",
        "LIVE",
        "READY",
        "ROUND_TRIP_MS",
        "DETAIL",
    ])];
    for (endpoint, (alive, ready)) in settings.endpoints.iter().zip(answers) {
        let (live, live_detail) = answer(&alive);
        let (is_ready, ready_detail) = answer(&ready);
        let detail = if ready_detail.is_empty() {
            live_detail
        } else {
            ready_detail
        };
        let rtt = ready
            .round_trip_ms()
            .map_or("-".to_string(), |ms| format!("{ms:.1}"));
        rows.push(vec![endpoint.url.clone(), live, is_ready, rtt, detail]);
    }
    table(&rows)
}

/// `nodes`: one line per node.
pub fn nodes(cluster: &Cluster) -> String {
    let mut rows = vec![row(&[
        "ID", "ADDRESS", "LIVENESS", "VERSION", "RANGES", "CAPACITY",
    ])];
    for node in &cluster.nodes {
        let (ranges, capacity) = match &node.vars {
            Some(v) => {
                let used = used_percent(v.capacity_used, v.capacity_available)
                    .map_or(String::new(), |p| format!(" ({p:.1} % used)"));
                (v.ranges.to_string(), format!("{}{used}", bytes(v.capacity)))
            }
            None => ("-".into(), "-".into()),
        };
        let mut status = node.status.as_str().to_string();
        if let Some(failure) = &node.failure {
            status.push_str(&format!(" ({failure})"));
        }
        rows.push(vec![
            node.id.clone(),
            node.address.clone(),
            status,
            node.version.clone().unwrap_or_else(|| "-".into()),
            ranges,
            capacity,
        ]);
    }
    let mut out = table(&rows);
    if let Some(Err(why)) = &cluster.api {
        out.push_str(&format!(
            "liveness from /_status/vars only: the nodes API did not answer: {why}\n"
        ));
    }
    out
}

/// `info`: version, node count and endpoints.
pub fn info(settings: &Settings, cluster: &Cluster) -> String {
    let live = cluster
        .nodes
        .iter()
        .filter(|n| n.status.as_str() == "live")
        .count();
    let version = output::version(cluster).unwrap_or_else(|| "unknown".into());
    let liveness = match &cluster.api {
        None => "from /_status/vars and /health (no auth: configured)".to_string(),
        Some(Ok(())) => "from the nodes API".to_string(),
        Some(Err(why)) => format!("from /_status/vars and /health (nodes API: {why})"),
    };
    let mut rows = vec![
        row(&["version:", &version]),
        row(&["nodes:", &format!("{} ({live} live)", cluster.nodes.len())]),
        row(&["liveness:", &liveness]),
    ];
    for (i, endpoint) in settings.endpoints.iter().enumerate() {
        let label = if i == 0 { "endpoints:" } else { "" };
        let node = cluster.nodes.iter().find(|n| n.endpoint == Some(i));
        let what = match node {
            Some(n) if n.vars.is_some() => format!("{} -> {}", endpoint.url, n.name(settings)),
            Some(n) => match &n.failure {
                Some(failure) => format!("{} -> {failure}", endpoint.url),
                None => endpoint.url.clone(),
            },
            None => endpoint.url.clone(),
        };
        rows.push(vec![label.to_string(), what]);
    }
    table(&rows)
}
