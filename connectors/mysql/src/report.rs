//! The report from every node's figures: a node per endpoint with its metrics, the cluster's
//! totals, and (from [`crate::verdict`]) the verdict.

use crate::{endpoint::Endpoint, figures::Figures, options::Options, verdict};
use dbmon_connector_api::{Error, MetricKind, NodeRef, NodeStatus, Report};

/// What one endpoint gave: its figures, or why it gave none.
pub type Answered<'a> = (&'a Endpoint, Result<Figures, String>);

/// Builds the report; `Err` when no node answered at all.
pub fn build(options: &Options, answers: &[Answered<'_>]) -> Result<Report, Error> {
    let up: Vec<(&Endpoint, &Figures)> = answers
        .iter()
        .filter_map(|(e, a)| a.as_ref().ok().map(|f| (*e, f)))
        .collect();
    let Some((_, first)) = up.first() else {
        let failures: Vec<String> = answers
            .iter()
            .filter_map(|(e, a)| a.as_ref().err().map(|a| format!("node {}: {a}", e.address)))
            .collect();
        return Err(failures.join("; ").into());
    };
    let mut report = Report::new();
    report.label("version", &first.version);
    for (endpoint, answer) in answers {
        node(&mut report, endpoint, answer.as_ref());
    }
    cluster(&mut report, answers.len(), &up);
    verdict::judge(&mut report, options, answers);
    Ok(report)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The cluster's own figures: counts, and totals or extremes over the nodes that answered.
fn cluster(report: &mut Report, configured: usize, up: &[(&Endpoint, &Figures)]) {
    let figures = || up.iter().map(|(_, f)| *f);
    report.metric("up", flag(up.len() == configured)).gauge();
    report.metric("nodes", configured as f64).gauge();
    report.metric("nodes_up", up.len() as f64).gauge();
    let replicas = figures().filter(|f| f.role() == "replica").count();
    report.metric("replicas", replicas as f64).gauge();
    let connections: f64 = figures().filter_map(|f| f.connections).sum();
    report.metric("connections", connections).gauge();
    let rates: Vec<f64> = figures()
        .filter_map(|f| f.since.queries_per_second)
        .collect();
    if !rates.is_empty() {
        report
            .metric("queries_per_second", rates.iter().sum())
            .gauge()
            .unit("queries/s");
    }
    let behind = figures()
        .flat_map(|f| &f.channels)
        .filter_map(|c| c.seconds_behind)
        .reduce(f64::max);
    if let Some(behind) = behind {
        report
            .metric("replication_seconds_behind", behind)
            .gauge()
            .unit("seconds");
    }
    let galera = figures()
        .filter_map(|f| f.galera.as_ref()?.cluster_size)
        .reduce(f64::max);
    if let Some(size) = galera {
        report.metric("galera_cluster_size", size).gauge();
    }
}

/// One node: LIVE with its figures, or UNAVAILABLE with `up` 0.
fn node(report: &mut Report, endpoint: &Endpoint, answer: Result<&Figures, &String>) {
    let status = match answer {
        Ok(_) => NodeStatus::Live,
        Err(_) => NodeStatus::Unavailable,
    };
    let node = report.node(&endpoint.address, status);
    report.node_address(node, &endpoint.address);
    let Ok(f) = answer else {
        report.node_label(node, "role", "unknown");
        report.node_metric(node, "up", 0.0).gauge();
        return;
    };
    report.node_label(node, "role", f.role());
    report.node_label(node, "version", &f.version);
    report.node_label(node, "flavor", f.flavor);
    report.node_metric(node, "up", 1.0).gauge();
    use MetricKind::{Counter, Gauge};
    let series: [(&str, Option<f64>, MetricKind, &str); 18] = [
        ("uptime_seconds", f.uptime_seconds, Gauge, "seconds"),
        ("connections", f.connections, Gauge, ""),
        ("connections_max", f.connections_max, Gauge, ""),
        (
            "connections_used_percent",
            f.connections_used_percent(),
            Gauge,
            "percent",
        ),
        ("connections_max_used", f.connections_max_used, Gauge, ""),
        ("threads_running", f.threads_running, Gauge, ""),
        (
            "queries_per_second",
            f.since.queries_per_second,
            Gauge,
            "queries/s",
        ),
        ("questions", f.questions, Counter, ""),
        ("slow_queries", f.slow_queries, Counter, ""),
        ("aborted_connects", f.aborted_connects, Counter, ""),
        (
            "innodb_buffer_pool_read_requests",
            f.read_requests,
            Counter,
            "",
        ),
        ("innodb_buffer_pool_reads", f.reads, Counter, ""),
        (
            "innodb_buffer_pool_hit_percent",
            f.hit_percent(),
            Gauge,
            "percent",
        ),
        (
            "innodb_buffer_pool_pages_dirty",
            f.pages_dirty,
            Gauge,
            "pages",
        ),
        (
            "innodb_buffer_pool_pages_total",
            f.pages_total,
            Gauge,
            "pages",
        ),
        (
            "innodb_buffer_pool_dirty_percent",
            f.dirty_percent(),
            Gauge,
            "percent",
        ),
        ("replicas_connected", Some(f.replicas_connected), Gauge, ""),
        (
            "replication_channels",
            Some(f.channels.len() as f64),
            Gauge,
            "",
        ),
    ];
    for (name, value, kind, unit) in series {
        let Some(value) = value else { continue };
        let metric = report.node_metric(node, name, value).kind(kind);
        if !unit.is_empty() {
            metric.unit(unit);
        }
    }
    channels(report, node, f);
    galera(report, node, f);
}

/// Each replication channel's threads, delay and GTID gap, labelled with its source.
fn channels(report: &mut Report, node: NodeRef, f: &Figures) {
    for c in &f.channels {
        let series = [
            ("replication_io_running", Some(flag(c.io_ok())), ""),
            ("replication_sql_running", Some(flag(c.sql_ok())), ""),
            ("replication_seconds_behind", c.seconds_behind, "seconds"),
            ("replication_gtid_gap", c.gtid_gap, "transactions"),
        ];
        for (name, value, unit) in series {
            let Some(value) = value else { continue };
            let mut metric = report
                .node_metric(node, name, value)
                .gauge()
                .label("source", &c.source);
            if !c.name.is_empty() {
                metric = metric.label("channel", &c.name);
            }
            if !unit.is_empty() {
                metric.unit(unit);
            }
        }
    }
}

/// A Galera node's view of itself and its cluster.
fn galera(report: &mut Report, node: NodeRef, f: &Figures) {
    let Some(g) = &f.galera else { return };
    report.node_label(node, "galera_state", &g.state_words());
    let series = [
        ("galera_primary", Some(flag(g.primary())), ""),
        ("galera_ready", Some(flag(g.ready)), ""),
        ("galera_connected", Some(flag(g.connected)), ""),
        ("galera_local_state", g.local_state, ""),
        ("galera_cluster_size", g.cluster_size, ""),
        ("galera_local_recv_queue", g.recv_queue, ""),
        (
            "galera_flow_control_paused_percent",
            g.flow_control_paused_percent,
            "percent",
        ),
    ];
    for (name, value, unit) in series {
        let Some(value) = value else { continue };
        let metric = report.node_metric(node, name, value).gauge();
        if !unit.is_empty() {
            metric.unit(unit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{endpoint, probe::Answer, rates::Since};
    use dbmon_connector_api::Status;
    use dbmon_test_support::{ReportExt, docs::ConnectorDir, readme_kinds::ReadmeKinds};

    /// A synced node of a three-node Galera cluster, with the `wsrep_%` status in the shapes
    /// MariaDB documents: what no server on this machine can show.
    fn galera_node() -> Figures {
        let status = [
            ("uptime", "3600"),
            ("threads_connected", "4"),
            ("wsrep_cluster_status", "Primary"),
            ("wsrep_ready", "ON"),
            ("wsrep_connected", "ON"),
            ("wsrep_local_state", "4"),
            ("wsrep_local_state_comment", "Synced"),
            ("wsrep_cluster_size", "3"),
            ("wsrep_local_recv_queue", "0"),
            ("wsrep_flow_control_paused", "0.000000"),
        ];
        let answer = Answer {
            variables: [
                ("wsrep_on", "ON"),
                ("version", "10.11.19-MariaDB"),
                ("max_connections", "151"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            status: status
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Answer::default()
        };
        Figures::of(&answer, Since::default())
    }

    #[test]
    fn galera_metrics_have_the_kinds_the_readme_gives() {
        let endpoints = [
            endpoint::parse("db1:3306").unwrap(),
            endpoint::parse("db2:3306").unwrap(),
        ];
        let answers = [
            (&endpoints[0], Ok(galera_node())),
            (&endpoints[1], Ok(galera_node())),
        ];
        let report = build(&Options::default(), &answers).unwrap();
        assert_eq!(report.status(), Status::Healthy, "{report:?}");
        let checked =
            ReadmeKinds::read(&ConnectorDir::new(env!("CARGO_MANIFEST_DIR"))).check(&report);
        for name in [
            "galera_primary",
            "galera_ready",
            "galera_connected",
            "galera_local_state",
            "galera_cluster_size",
            "galera_local_recv_queue",
            "galera_flow_control_paused_percent",
        ] {
            assert!(!checked.unseen_node.contains(name), "{name} not reported");
            assert!(report.node_value_of("db1:3306", name).is_some(), "{name}");
        }
        assert!(!checked.unseen_cluster.contains("galera_cluster_size"));
        assert_eq!(report.exact_value(None, "galera_cluster_size", &[]), 3.0);
        assert_eq!(
            report.exact_value(Some("db2:3306"), "galera_local_state", &[]),
            4.0
        );
        let node = report.node_by_id("db1:3306");
        assert_eq!(report.node_labels(node).get("galera_state"), Some("Synced"));
        assert_eq!(report.node_labels(node).get("role"), Some("standalone"));
    }

    #[test]
    fn no_node_answering_is_an_error_with_each_reason() {
        let endpoints = [
            endpoint::parse("db1:3306").unwrap(),
            endpoint::parse("db2").unwrap(),
        ];
        let answers = [
            (&endpoints[0], Err("cannot connect: refused".to_string())),
            (&endpoints[1], Err("no answer within 900 ms".to_string())),
        ];
        let e = build(&Options::default(), &answers)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "node db1:3306: cannot connect: refused; node db2:3306: no answer within 900 ms"
        );
    }
}
