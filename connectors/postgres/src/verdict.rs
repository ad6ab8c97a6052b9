//! The report from every node's answers: metrics per node and for the cluster, and the verdict.

use crate::{
    endpoint::Endpoint,
    options::Options,
    probe::{Facts, Replica},
};
use dbmon_connector_api::{Error, NodeRef, NodeStatus, Report};

/// Transaction IDs a database can age before wraparound: 2^31.
pub const XID_WRAPAROUND_LIMIT: f64 = 2_147_483_648.0;

/// What one endpoint gave: its figures, or why it gave none.
pub type Answer<'a> = (&'a Endpoint, Result<Facts, String>);

/// Builds the report; `Err` when no node answered at all.
pub fn report(options: &Options, answers: &[Answer<'_>]) -> Result<Report, Error> {
    if answers.iter().all(|(_, a)| a.is_err()) {
        let failures: Vec<String> = answers
            .iter()
            .filter_map(|(e, a)| {
                a.as_ref()
                    .err()
                    .map(|err| format!("node {}: {err}", e.address))
            })
            .collect();
        return Err(failures.join("; ").into());
    }
    let up: Vec<(&Endpoint, &Facts)> = answers
        .iter()
        .filter_map(|(e, a)| a.as_ref().ok().map(|f| (*e, f)))
        .collect();
    let primaries: Vec<&str> = up
        .iter()
        .filter(|(_, f)| !f.standby)
        .map(|(e, _)| e.address.as_str())
        .collect();
    let standbys: Vec<&str> = up
        .iter()
        .filter(|(_, f)| f.standby)
        .map(|(e, _)| e.address.as_str())
        .collect();
    // The cluster's own figures are the primary's; without one, the first node's that answers.
    let main = up
        .iter()
        .find(|(_, f)| !f.standby)
        .or(up.first())
        .map(|(_, f)| *f)
        .expect("at least one node answered");

    let mut report = Report::new();
    report.label("version", &main.version);
    for (endpoint, answer) in answers {
        node(&mut report, endpoint, answer.as_ref());
    }
    report
        .metric("up", bool_value(up.len() == answers.len()))
        .gauge();
    report.metric("nodes", answers.len() as f64).gauge();
    report.metric("nodes_up", up.len() as f64).gauge();
    report.metric("primaries", primaries.len() as f64).gauge();
    report.metric("standbys", standbys.len() as f64).gauge();
    figures(&mut report, None, main);
    let replicas: usize = up.iter().map(|(_, f)| f.replicas.len()).sum();
    report.metric("replicas_connected", replicas as f64).gauge();
    for (endpoint, facts) in &up {
        for replica in &facts.replicas {
            replica_metrics(&mut report, None, replica, Some(&endpoint.address));
        }
    }
    let recovery = up.iter().filter_map(|(_, f)| f.recovery_lag_seconds);
    if let Some(lag) = recovery.reduce(f64::max) {
        report
            .metric("recovery_lag_seconds", lag)
            .gauge()
            .unit("seconds");
    }

    for (endpoint, answer) in answers {
        if let Err(e) = answer {
            report.degraded(format!("node {} not answering: {e}", endpoint.address));
        }
    }
    match primaries.len() {
        0 => report.unhealthy(format!(
            "no primary answers (standbys answering: {})",
            standbys.join(", ")
        )),
        1 => expected_replicas(&mut report, options, &up),
        n => report.unhealthy(format!(
            "{n} primaries answer: {} (split brain, or a failover the old primary did not follow)",
            primaries.join(", ")
        )),
    }
    for (endpoint, facts) in &up {
        thresholds(&mut report, options, &endpoint.address, facts);
    }
    Ok(report)
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// One node: LIVE with its figures, or UNAVAILABLE with `up` 0.
fn node(report: &mut Report, endpoint: &Endpoint, answer: Result<&Facts, &String>) {
    let status = match answer {
        Ok(_) => NodeStatus::Live,
        Err(_) => NodeStatus::Unavailable,
    };
    let node = report.node(&endpoint.address, status);
    report.node_address(node, &endpoint.address);
    let Ok(facts) = answer else {
        report.node_label(node, "role", "unknown");
        report.node_metric(node, "up", 0.0).gauge();
        return;
    };
    report.node_label(
        node,
        "role",
        if facts.standby { "standby" } else { "primary" },
    );
    report.node_label(node, "version", &facts.version);
    report.node_metric(node, "up", 1.0).gauge();
    figures(report, Some(node), facts);
    report
        .node_metric(node, "replicas_connected", facts.replicas.len() as f64)
        .gauge();
    for replica in &facts.replicas {
        replica_metrics(report, Some(node), replica, None);
    }
    if let Some(lag) = facts.recovery_lag_seconds {
        report
            .node_metric(node, "recovery_lag_seconds", lag)
            .gauge()
            .unit("seconds");
    }
}

/// The figures a node and the cluster both carry.
fn figures(report: &mut Report, node: Option<NodeRef>, facts: &Facts) {
    let mut put = |name: &str, value: f64, unit: &str, label: Option<(&str, &str)>| {
        let mut metric = match node {
            Some(node) => report.node_metric(node, name, value).gauge(),
            None => report.metric(name, value).gauge(),
        };
        if !unit.is_empty() {
            metric = metric.unit(unit);
        }
        if let Some((key, value)) = label {
            metric.label(key, value);
        }
    };
    put("version", facts.version_num, "", None);
    put("connections", facts.connections, "", None);
    put("connections_max", facts.connections_max, "", None);
    put(
        "connections_used_percent",
        connections_used_percent(facts),
        "percent",
        None,
    );
    let total: f64 = facts.databases.iter().filter_map(|d| d.size_bytes).sum();
    put("database_size_bytes", total, "bytes", None);
    for database in &facts.databases {
        if let Some(size) = database.size_bytes {
            put(
                "database_size_bytes",
                size,
                "bytes",
                Some(("database", &database.name)),
            );
        }
    }
    put(
        "oldest_transaction_seconds",
        facts.oldest_transaction_seconds,
        "seconds",
        None,
    );
    put("locks_waiting", facts.locks_waiting, "", None);
    put(
        "xid_wraparound_percent",
        xid_wraparound_percent(facts).0,
        "percent",
        None,
    );
}

fn replica_metrics(
    report: &mut Report,
    node: Option<NodeRef>,
    r: &Replica,
    upstream: Option<&str>,
) {
    let series: [(&str, Option<f64>, &str); 2] = [
        ("replication_lag_bytes", r.lag_bytes, "bytes"),
        ("replication_lag_seconds", Some(r.lag_seconds), "seconds"),
    ];
    for (name, value, unit) in series {
        let Some(value) = value else { continue };
        let metric = match node {
            Some(node) => report.node_metric(node, name, value).gauge(),
            None => report.metric(name, value).gauge(),
        };
        let metric = metric
            .unit(unit)
            .label("replica", r.name())
            .label("client_addr", &r.client_addr)
            .label("state", &r.state);
        if let Some(upstream) = upstream {
            metric.label("upstream", upstream);
        }
    }
}

fn connections_used_percent(facts: &Facts) -> f64 {
    if facts.connections_max > 0.0 {
        facts.connections / facts.connections_max * 100.0
    } else {
        0.0
    }
}

/// The oldest database's share of the way to wraparound, `age(datfrozenxid) / 2^31 × 100`,
/// with its name and age.
fn xid_wraparound_percent(facts: &Facts) -> (f64, &str, f64) {
    let oldest = facts
        .databases
        .iter()
        .max_by(|a, b| a.xid_age.total_cmp(&b.xid_age));
    match oldest {
        Some(db) => (
            db.xid_age / XID_WRAPAROUND_LIMIT * 100.0,
            &db.name,
            db.xid_age,
        ),
        None => (0.0, "", 0.0),
    }
}

/// Every name in `expected_replicas` must match a replica of some node.
fn expected_replicas(report: &mut Report, options: &Options, up: &[(&Endpoint, &Facts)]) {
    let all: Vec<&Replica> = up.iter().flat_map(|(_, f)| &f.replicas).collect();
    for expected in &options.expected_replicas {
        let found = all
            .iter()
            .any(|r| &r.application_name == expected || &r.client_addr == expected);
        if !found {
            let mut streaming: Vec<&str> = all.iter().map(|r| r.name()).collect();
            if streaming.is_empty() {
                streaming.push("none");
            }
            report.degraded(format!(
                "expected replica '{expected}' is not streaming from any node (streaming: {})",
                streaming.join(", ")
            ));
        }
    }
}

/// Lag, connection and wraparound thresholds of one node.
fn thresholds(report: &mut Report, options: &Options, address: &str, facts: &Facts) {
    for r in &facts.replicas {
        let name = r.name();
        if let Some(lag) = r
            .lag_bytes
            .filter(|l| *l > options.replication_lag_bytes_degraded)
        {
            report.degraded(format!(
                "replica '{name}' ({}) of node {address} is {lag:.0} bytes of WAL behind \
                 (replication_lag_bytes over {:.0})",
                r.client_addr, options.replication_lag_bytes_degraded
            ));
        }
        if r.lag_seconds > options.replication_lag_seconds_degraded {
            report.degraded(format!(
                "replica '{name}' ({}) of node {address} replays {:.1} s behind \
                 (replication_lag_seconds over {})",
                r.client_addr, r.lag_seconds, options.replication_lag_seconds_degraded
            ));
        }
    }
    if let Some(lag) = facts
        .recovery_lag_seconds
        .filter(|l| *l > options.replication_lag_seconds_degraded)
    {
        report.degraded(format!(
            "standby {address} has not replayed a transaction for {lag:.1} s while WAL is waiting \
             (recovery_lag_seconds over {})",
            options.replication_lag_seconds_degraded
        ));
    }
    let used = connections_used_percent(facts);
    if used > options.connections_used_degraded_percent {
        report.degraded(format!(
            "node {address} uses {:.0} of {:.0} connections ({used:.1} %, \
             connections_used_percent over {})",
            facts.connections, facts.connections_max, options.connections_used_degraded_percent
        ));
    }
    let (percent, database, age) = xid_wraparound_percent(facts);
    if percent > options.xid_wraparound_degraded_percent {
        report.degraded(format!(
            "node {address}: database '{database}' is {} % of the way to transaction ID \
             wraparound (age {age:.0} of 2^31; xid_wraparound_percent over {})",
            readable(percent),
            options.xid_wraparound_degraded_percent
        ));
    }
}

/// A percentage an operator reads: one decimal, or two significant digits when that is 0.0.
fn readable(percent: f64) -> String {
    if percent == 0.0 || percent >= 0.1 {
        format!("{percent:.1}")
    } else {
        format!("{percent:.1e}")
    }
}
