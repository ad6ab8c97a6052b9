//! The health rules: each finding becomes a reason that names the node (or the stream and
//! consumer) and the figure, and raises the report's status.

use crate::options::{JetStream, Settings};
use crate::view::{NodeView, View};
use dbmon_connector_api::Report;
use std::collections::BTreeSet;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// UNHEALTHY.
    Unhealthy,
    /// DEGRADED.
    Degraded,
}

/// Adds the findings of `view` to `report`, worst first.
pub fn judge(report: &mut Report, view: &View, settings: &Settings) {
    let mut findings = Vec::new();
    findings.extend(jetstream(view, settings.jetstream));
    for node in &view.nodes {
        findings.extend(node_findings(node));
        findings.extend(routes(node, view));
    }
    for ((account, stream), s) in &view.streams {
        if s.leaderless {
            findings.push((
                Severity::Unhealthy,
                format!(
                    "stream {stream}{} has no leader: it takes no messages until its replicas elect one",
                    of_account(account)
                ),
            ));
        }
    }
    findings.extend(consumers(view, settings.consumer_pending_degraded));
    findings.sort_by_key(|(severity, _)| *severity);
    for (severity, reason) in findings {
        match severity {
            Severity::Unhealthy => report.unhealthy(reason),
            Severity::Degraded => report.degraded(reason),
        }
    }
}

/// A node down, its health check, endpoints it could not answer, its slow consumers.
fn node_findings(node: &NodeView) -> Vec<(Severity, String)> {
    use Severity::Degraded;
    let who = node.describe();
    let probe = node.probe;
    let varz = match &probe.varz {
        Ok((varz, _)) => varz,
        Err(e) => return vec![(Degraded, format!("{who} not answering: {e}"))],
    };
    let mut out = Vec::new();
    if let Err(e) = &probe.healthz {
        out.push((Degraded, format!("{who} fails its health check: {e}")));
    }
    let failures = [
        probe.routez.as_ref().err(),
        probe.connz.as_ref().err(),
        probe.jsz.as_ref().and_then(|j| j.as_ref().err()),
    ];
    for e in failures.into_iter().flatten() {
        out.push((Degraded, format!("{who}: {e}")));
    }
    if let Some(before) = node.before
        && before.server_id == varz.server_id
        && varz.slow_consumers > before.slow_consumers
    {
        out.push((
            Degraded,
            format!(
                "{who}: slow consumers went from {} to {} since the last collection \
                 (clients that did not read fast enough were disconnected)",
                before.slow_consumers, varz.slow_consumers
            ),
        ));
    }
    out
}

/// The servers a node has a route to (server ids; a server can have several routes to one
/// peer: 2.10's route pooling).
pub fn route_peers<'a>(node: &NodeView<'a>) -> Option<BTreeSet<&'a str>> {
    let routez = node.probe.routez.as_ref().ok()?;
    Some(
        routez
            .routes
            .iter()
            .map(|r| r.remote_id.as_str())
            .filter(|id| !id.is_empty())
            .collect(),
    )
}

/// A route missing: a node routed to fewer servers than the other listed nodes, or to none
/// while its configuration lists routes.
fn routes(node: &NodeView, view: &View) -> Option<(Severity, String)> {
    let varz = node.probe.varz()?;
    let peers = route_peers(node)?;
    let expected = view.nodes.len() - 1;
    let who = node.describe();
    if peers.len() < expected {
        let missing: Vec<&str> = view
            .nodes
            .iter()
            .filter(|other| other.probe.url != node.probe.url)
            .filter(|other| {
                let id = other
                    .probe
                    .varz()
                    .map(|v| v.server_id.as_str())
                    .or(other.before.map(|s| s.server_id.as_str()));
                id.is_none_or(|id| !peers.contains(id))
            })
            .map(|other| other.id.as_str())
            .collect();
        let names = match missing.is_empty() {
            true => String::new(),
            false => format!(": none to {}", missing.join(", ")),
        };
        let plural = if peers.len() == 1 { "" } else { "s" };
        return Some((
            Severity::Degraded,
            format!(
                "{who} has routes to {} server{plural}, {expected} expected (one to each other listed node){names}",
                peers.len()
            ),
        ));
    }
    if peers.is_empty() && !varz.cluster.urls.is_empty() {
        return Some((
            Severity::Degraded,
            format!(
                "{who} has no route, though its configuration lists {} (cluster routes: {})",
                varz.cluster.urls.len(),
                varz.cluster.urls.join(", ")
            ),
        ));
    }
    None
}

/// JetStream off where it should run, and the meta group without a leader.
fn jetstream(view: &View, mode: JetStream) -> Vec<(Severity, String)> {
    use Severity::{Degraded, Unhealthy};
    let mut out = Vec::new();
    if mode == JetStream::Off {
        return out;
    }
    let answered: Vec<(&NodeView, &crate::api::Jsz)> = view
        .answering()
        .filter_map(|n| Some((n, n.probe.jsz()?)))
        .collect();
    let running: Vec<&str> = answered
        .iter()
        .filter(|(_, jsz)| !jsz.disabled)
        .map(|(n, _)| n.id.as_str())
        .collect();
    let expected = match mode {
        JetStream::Required => Some("jetstream: required".to_string()),
        _ if !running.is_empty() => {
            let verb = if running.len() == 1 { "runs" } else { "run" };
            Some(format!("{} {verb} it", running.join(", ")))
        }
        _ => None,
    };
    if let Some(why) = expected {
        for (node, jsz) in &answered {
            if jsz.disabled {
                out.push((
                    Unhealthy,
                    format!(
                        "{}: JetStream is not running (/jsz says disabled), though {why}",
                        node.describe()
                    ),
                ));
            }
        }
    }
    // Clustered JetStream servers and the meta leader each knows.
    let clustered: Vec<(&NodeView, &str)> = answered
        .iter()
        .filter(|(_, jsz)| !jsz.disabled)
        .filter_map(|(n, jsz)| Some((*n, jsz.meta_cluster.as_ref()?.leader.as_str())))
        .collect();
    let leaders: BTreeSet<&str> = clustered
        .iter()
        .map(|(_, l)| *l)
        .filter(|l| !l.is_empty())
        .collect();
    if !clustered.is_empty() && leaders.is_empty() {
        let size = answered
            .iter()
            .filter_map(|(_, jsz)| jsz.meta_cluster.as_ref().map(|m| m.cluster_size))
            .max()
            .unwrap_or(0);
        out.push((
            Unhealthy,
            format!(
                "JetStream has no meta leader: none of the {} answering JetStream servers knows one \
                 (the meta group has {size}; it needs a majority to elect one)",
                clustered.len()
            ),
        ));
    } else if !leaders.is_empty() {
        let known: Vec<&str> = leaders.iter().copied().collect();
        for (node, leader) in &clustered {
            if leader.is_empty() {
                out.push((
                    Degraded,
                    format!(
                        "{} knows no JetStream meta leader (others name {})",
                        node.describe(),
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

/// Consumers lagging past the threshold.
fn consumers(view: &View, threshold: u64) -> Vec<(Severity, String)> {
    view.consumers
        .iter()
        .filter(|(_, c)| c.detail.num_pending > threshold)
        .map(|((account, stream, consumer), c)| {
            let of = of_account(account);
            (
                Severity::Degraded,
                format!(
                    "consumer {stream}/{consumer}{of} has {} messages pending (num_pending), \
                     over {threshold} (consumer_pending_degraded)",
                    c.detail.num_pending
                ),
            )
        })
        .collect()
}

/// ` of account A`, nothing for the global account.
fn of_account(account: &str) -> String {
    match account {
        "$G" | "" => String::new(),
        account => format!(" of account {account}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Jsz, MetaCluster, Route, Routez, Varz};
    use crate::fetch::Probe;
    use crate::history::Seen;
    use dbmon_connector_api::Status;
    use std::collections::HashMap;
    use std::time::Duration;

    /// An answering server `name` (server id `ID-name`) routed to the servers `peers`.
    fn up(name: &str, peers: &[&str], jsz: Option<Jsz>) -> Probe {
        let varz = Varz {
            server_id: format!("ID-{name}"),
            server_name: name.into(),
            slow_consumers: 3,
            ..Varz::default()
        };
        let routes = peers
            .iter()
            .map(|p| Route {
                remote_id: format!("ID-{p}"),
                ..Route::default()
            })
            .collect();
        Probe {
            url: format!("http://{name}:8222"),
            varz: Ok((varz, Duration::from_millis(1))),
            routez: Ok(Routez { routes }),
            connz: Ok(Default::default()),
            healthz: Ok(()),
            jsz: jsz.map(Ok),
        }
    }

    fn down(name: &str) -> Probe {
        Probe {
            url: format!("http://{name}:8222"),
            varz: Err(format!("GET http://{name}:8222/varz: refused")),
            routez: Err("refused".into()),
            connz: Err("refused".into()),
            healthz: Err("refused".into()),
            jsz: Some(Err("refused".into())),
        }
    }

    fn running(leader: &str) -> Option<Jsz> {
        Some(Jsz {
            meta_cluster: Some(MetaCluster {
                leader: leader.into(),
                cluster_size: 2,
            }),
            ..Jsz::default()
        })
    }

    fn disabled() -> Option<Jsz> {
        Some(Jsz {
            disabled: true,
            ..Jsz::default()
        })
    }

    fn judged(probes: &[Probe], before: &HashMap<String, Seen>, mode: JetStream) -> Report {
        let settings = Settings {
            endpoints: probes.iter().map(|p| p.url.clone()).collect(),
            consumer_pending_degraded: 10,
            jetstream: mode,
            credentials: None,
        };
        let view = View::new(probes, before);
        let mut report = Report::new();
        judge(&mut report, &view, &settings);
        report
    }

    #[test]
    fn jetstream_on_one_server_is_expected_on_the_others_unless_off() {
        let probes = [
            up("n1", &["n2"], running("n1")),
            up("n2", &["n1"], disabled()),
        ];
        let report = judged(&probes, &HashMap::new(), JetStream::Auto);
        assert_eq!(report.status(), Status::Unhealthy);
        assert_eq!(
            report.reasons().collect::<Vec<_>>(),
            [
                "node n2 (http://n2:8222): JetStream is not running (/jsz says disabled), though n1 runs it"
            ]
        );
        let report = judged(&probes, &HashMap::new(), JetStream::Off);
        assert_eq!(report.status(), Status::Healthy);
    }

    #[test]
    fn a_server_without_the_meta_leader_others_know() {
        let probes = [
            up("n1", &["n2"], running("n1")),
            up("n2", &["n1"], running("")),
        ];
        let report = judged(&probes, &HashMap::new(), JetStream::Auto);
        assert_eq!(report.status(), Status::Degraded);
        assert_eq!(
            report.reasons().collect::<Vec<_>>(),
            ["node n2 (http://n2:8222) knows no JetStream meta leader (others name n1)"]
        );
    }

    #[test]
    fn a_missing_route_names_the_server_it_had_last_time() {
        let probes = [up("n1", &["n2"], None), up("n2", &["n1"], None), down("n3")];
        let before = HashMap::from([(
            "http://n3:8222".to_string(),
            Seen {
                name: "n3".into(),
                server_id: "ID-n3".into(),
                slow_consumers: 0,
            },
        )]);
        let report = judged(&probes, &before, JetStream::Auto);
        assert_eq!(report.status(), Status::Degraded);
        let reasons: Vec<&str> = report.reasons().collect();
        assert_eq!(
            reasons,
            [
                "node n1 (http://n1:8222) has routes to 1 server, 2 expected (one to each other listed node): none to n3",
                "node n2 (http://n2:8222) has routes to 1 server, 2 expected (one to each other listed node): none to n3",
                "node n3 (http://n3:8222) not answering: GET http://n3:8222/varz: refused",
            ]
        );
    }

    #[test]
    fn slow_consumers_of_a_restarted_server_start_again() {
        let probes = [up("n1", &[], None)];
        let seen = |server_id: &str, slow_consumers| {
            HashMap::from([(
                "http://n1:8222".to_string(),
                Seen {
                    name: "n1".into(),
                    server_id: server_id.into(),
                    slow_consumers,
                },
            )])
        };
        // Same server, 1 then 3: an increase.
        let report = judged(&probes, &seen("ID-n1", 1), JetStream::Auto);
        assert_eq!(
            report.reasons().collect::<Vec<_>>(),
            [
                "node n1 (http://n1:8222): slow consumers went from 1 to 3 since the last collection \
              (clients that did not read fast enough were disconnected)"
            ]
        );
        // Unchanged, or another server (a restart) at the endpoint: nothing to say.
        assert_eq!(
            judged(&probes, &seen("ID-n1", 3), JetStream::Auto).status(),
            Status::Healthy
        );
        assert_eq!(
            judged(&probes, &seen("ID-old", 1), JetStream::Auto).status(),
            Status::Healthy
        );
    }
}
