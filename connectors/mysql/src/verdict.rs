//! The verdict: a reason for every node that did not answer, every threshold crossed, every
//! replication channel not replicating and every Galera node out of its cluster.

use crate::{
    figures::Figures, galera::Galera, options::Options, replication::Channel, report::Answered,
};
use dbmon_connector_api::Report;

/// Adds the reasons (and so the status) of `answers` to `report`.
pub fn judge(report: &mut Report, options: &Options, answers: &[Answered<'_>]) {
    for (endpoint, answer) in answers {
        let address = &endpoint.address;
        match answer {
            Err(e) => report.degraded(format!("node {address} not answering: {e}")),
            Ok(figures) => node(report, options, address, figures),
        }
    }
}

fn node(report: &mut Report, options: &Options, address: &str, f: &Figures) {
    if let Some(used) = f.connections_used_percent()
        && used > options.connections_used_degraded_percent
    {
        report.degraded(format!(
            "node {address} uses {:.0} of {:.0} connections ({used:.1} %, \
             connections_used_percent over {})",
            f.connections.unwrap_or_default(),
            f.connections_max.unwrap_or_default(),
            options.connections_used_degraded_percent
        ));
    }
    if let Some(why) = &f.replication_unreadable {
        report.degraded(format!(
            "node {address}: cannot read its replication status ({why}); grant the login \
             REPLICATION CLIENT (MySQL) or SLAVE MONITOR (MariaDB)"
        ));
    }
    for channel in &f.channels {
        replication(report, options, address, channel);
    }
    if let Some(galera) = &f.galera {
        self::galera(report, address, galera);
    }
}

/// A channel's threads and delay.
fn replication(report: &mut Report, options: &Options, address: &str, c: &Channel) {
    let who = format!("replica {address}{} (source {})", c.described(), c.source);
    let last = |error: &str| match error {
        "" => "no error recorded".to_string(),
        error => format!("last error: {error}"),
    };
    if !c.sql_ok() {
        report.unhealthy(format!(
            "{who}: SQL thread not running ({}): received transactions are not applied",
            last(&c.last_sql_error)
        ));
    }
    if c.io_running.eq_ignore_ascii_case("no") {
        report.unhealthy(format!(
            "{who}: I/O thread not running ({}): nothing is received from the source",
            last(&c.last_io_error)
        ));
    } else if !c.io_ok() {
        // `Connecting` (or MariaDB's `Preparing`): it retries by itself.
        report.degraded(format!(
            "{who}: I/O thread {} to its source, not replicating ({})",
            c.io_running.to_ascii_lowercase(),
            last(&c.last_io_error)
        ));
    }
    if let Some(behind) = c.seconds_behind
        && behind > options.replication_seconds_behind_degraded
    {
        report.degraded(format!(
            "{who} is {behind:.0} s behind its source (replication_seconds_behind over {})",
            options.replication_seconds_behind_degraded
        ));
    }
}

/// A Galera node outside the primary component, not ready, or not synced.
fn galera(report: &mut Report, address: &str, g: &Galera) {
    if !g.primary() {
        let status = match g.cluster_status.as_str() {
            "" => "not shown",
            status => status,
        };
        report.unhealthy(format!(
            "Galera node {address} is not part of the primary component \
             (wsrep_cluster_status {status}): it cannot commit"
        ));
    }
    if !g.ready {
        report.unhealthy(format!(
            "Galera node {address} is not ready (wsrep_ready OFF): it refuses queries"
        ));
    }
    if !g.synced() {
        let state = g
            .local_state
            .map_or(String::new(), |s| format!(", wsrep_local_state {s}"));
        report.degraded(format!(
            "Galera node {address} is {}, not Synced{state}",
            g.state_words()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{endpoint, probe::Answer, rates::Since};
    use dbmon_connector_api::Status;

    fn galera(status: &[(&str, &str)]) -> Figures {
        let answer = Answer {
            variables: [("wsrep_on".to_string(), "ON".to_string())].into(),
            status: status
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Answer::default()
        };
        Figures::of(&answer, Since::default())
    }

    fn judged(figures: Figures) -> Report {
        let endpoint = endpoint::parse("db1:3306").unwrap();
        let answers = [(&endpoint, Ok(figures))];
        let mut report = Report::new();
        judge(&mut report, &Options::default(), &answers);
        report
    }

    const SYNCED: [(&str, &str); 5] = [
        ("wsrep_cluster_status", "Primary"),
        ("wsrep_ready", "ON"),
        ("wsrep_connected", "ON"),
        ("wsrep_local_state", "4"),
        ("wsrep_local_state_comment", "Synced"),
    ];

    /// A MySQL 8 replica with one channel, `SHOW REPLICA STATUS` spelling.
    fn mysql_replica(io: &str, sql: &str, behind: Option<&str>, io_error: &str) -> Figures {
        let row: crate::probe::Fields = [
            ("Channel_Name", Some("")),
            ("Source_Host", Some("db0")),
            ("Source_Port", Some("3306")),
            ("Replica_IO_Running", Some(io)),
            ("Replica_SQL_Running", Some(sql)),
            ("Seconds_Behind_Source", behind),
            (
                "Last_IO_Errno",
                Some(if io_error.is_empty() { "0" } else { "13117" }),
            ),
            ("Last_IO_Error", Some(io_error)),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(String::from)))
        .collect();
        let answer = Answer {
            variables: [("version".to_string(), "8.4.3".to_string())].into(),
            channels: vec![row],
            ..Answer::default()
        };
        Figures::of(&answer, Since::default())
    }

    fn reasons(report: &Report) -> Vec<&str> {
        report.reasons().collect()
    }

    #[test]
    fn mysql_replicas_in_the_new_spelling() {
        let report = judged(mysql_replica("Yes", "Yes", Some("3"), ""));
        assert_eq!(report.status(), Status::Healthy, "{report:?}");

        let report = judged(mysql_replica(
            "No",
            "Yes",
            None,
            "Fatal error: source has purged",
        ));
        assert_eq!(report.status(), Status::Unhealthy);
        assert_eq!(
            reasons(&report),
            [
                "replica db1:3306 (source db0:3306): I/O thread not running (last error: error \
                 13117: Fatal error: source has purged): nothing is received from the source"
            ]
        );

        let report = judged(mysql_replica("Connecting", "Yes", None, "can't connect"));
        assert_eq!(report.status(), Status::Degraded);
        assert_eq!(
            reasons(&report),
            [
                "replica db1:3306 (source db0:3306): I/O thread connecting to its source, not \
                 replicating (last error: error 13117: can't connect)"
            ]
        );

        let report = judged(mysql_replica("Yes", "Yes", Some("45"), ""));
        assert_eq!(report.status(), Status::Degraded);
        assert_eq!(
            reasons(&report),
            [
                "replica db1:3306 (source db0:3306) is 45 s behind its source \
                 (replication_seconds_behind over 30)"
            ]
        );
    }

    #[test]
    fn a_synced_galera_node_is_healthy() {
        let report = judged(galera(&SYNCED));
        assert_eq!(report.status(), Status::Healthy, "{report:?}");
    }

    #[test]
    fn a_desynced_donor_is_degraded() {
        let mut status = SYNCED;
        status[3].1 = "2";
        status[4].1 = "Donor/Desynced";
        let report = judged(galera(&status));
        assert_eq!(report.status(), Status::Degraded);
        let reasons: Vec<&str> = report.reasons().collect();
        assert_eq!(
            reasons,
            ["Galera node db1:3306 is Donor/Desynced, not Synced, wsrep_local_state 2"]
        );
    }

    #[test]
    fn a_non_primary_or_unready_node_is_unhealthy() {
        let mut status = SYNCED;
        status[0].1 = "non-Primary";
        status[1].1 = "OFF";
        let report = judged(galera(&status));
        assert_eq!(report.status(), Status::Unhealthy);
        let reasons: Vec<&str> = report.reasons().collect();
        assert!(
            reasons[0].contains("wsrep_cluster_status non-Primary"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("wsrep_ready OFF"), "{reasons:?}");
        assert_eq!(reasons.len(), 2, "{reasons:?}");
    }
}
