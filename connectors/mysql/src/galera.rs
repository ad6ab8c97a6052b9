//! A Galera node's state (MariaDB Galera Cluster, Percona XtraDB Cluster), from its `wsrep_%`
//! status. Every MariaDB server has those, Galera or not (without a provider, `wsrep_ready`
//! is `OFF` and `wsrep_cluster_status` `Disconnected`): a node is a Galera node only when its
//! `wsrep_on` variable is `ON`.

use crate::probe::Answer;

/// `wsrep_local_state` of a node that is in sync with its cluster.
pub const SYNCED: f64 = 4.0;

/// What a Galera node says of itself and its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Galera {
    /// `wsrep_cluster_status`: `Primary`, `Non-Primary` or `Disconnected`.
    pub cluster_status: String,
    /// `wsrep_ready`: whether the node accepts queries.
    pub ready: bool,
    /// `wsrep_connected`: whether it is connected to the cluster.
    pub connected: bool,
    /// `wsrep_local_state`: 1 joining, 2 donor/desynced, 3 joined, 4 synced.
    pub local_state: Option<f64>,
    /// `wsrep_local_state_comment`: `Synced`, `Donor/Desynced`, `Joining`, `Joined`, ...
    pub local_state_comment: String,
    /// `wsrep_cluster_size`: nodes in the cluster this node is part of.
    pub cluster_size: Option<f64>,
    /// `wsrep_local_recv_queue`: write sets received and waiting to be applied.
    pub recv_queue: Option<f64>,
    /// `wsrep_flow_control_paused`: the fraction of time since the last `FLUSH STATUS` that
    /// replication was paused by flow control, as a percentage.
    pub flow_control_paused_percent: Option<f64>,
}

impl Galera {
    /// The Galera state of a server, `None` when it is not a Galera node.
    pub fn of(answer: &Answer) -> Option<Galera> {
        let on = answer.variables.get("wsrep_on")?;
        if !on.eq_ignore_ascii_case("on") {
            return None;
        }
        let text = |name: &str| answer.status.get(name).map_or("", |v| v.trim());
        let number = |name: &str| text(name).parse::<f64>().ok();
        Some(Galera {
            cluster_status: text("wsrep_cluster_status").to_string(),
            ready: text("wsrep_ready").eq_ignore_ascii_case("on"),
            connected: text("wsrep_connected").eq_ignore_ascii_case("on"),
            local_state: number("wsrep_local_state"),
            local_state_comment: text("wsrep_local_state_comment").to_string(),
            cluster_size: number("wsrep_cluster_size"),
            recv_queue: number("wsrep_local_recv_queue"),
            flow_control_paused_percent: number("wsrep_flow_control_paused").map(|f| f * 100.0),
        })
    }

    /// Whether the node is part of the primary component (the one that may commit).
    pub fn primary(&self) -> bool {
        self.cluster_status.eq_ignore_ascii_case("primary")
    }

    /// Whether the node is in sync: `wsrep_local_state` 4, or, without it, the comment.
    pub fn synced(&self) -> bool {
        match self.local_state {
            Some(state) => state == SYNCED,
            None => self.local_state_comment.eq_ignore_ascii_case("synced"),
        }
    }

    /// The state as an operator reads it: the comment, else the number.
    pub fn state_words(&self) -> String {
        match (&self.local_state_comment, self.local_state) {
            (comment, _) if !comment.is_empty() => comment.clone(),
            (_, Some(state)) => format!("state {state}"),
            (_, None) => "no state".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer with these variables and status, as the server spells them.
    fn answer(variables: &[(&str, &str)], status: &[(&str, &str)]) -> Answer {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect()
        };
        Answer {
            variables: map(variables),
            status: map(status),
            ..Answer::default()
        }
    }

    /// The `wsrep_%` status of a synced node of a three-node cluster, in the shapes MariaDB
    /// documents (`SHOW GLOBAL STATUS LIKE 'wsrep%'` on MariaDB Galera Cluster 10.11).
    const SYNCED_NODE: [(&str, &str); 8] = [
        ("wsrep_cluster_status", "Primary"),
        ("wsrep_ready", "ON"),
        ("wsrep_connected", "ON"),
        ("wsrep_local_state", "4"),
        ("wsrep_local_state_comment", "Synced"),
        ("wsrep_cluster_size", "3"),
        ("wsrep_local_recv_queue", "0"),
        ("wsrep_flow_control_paused", "0.012500"),
    ];

    #[test]
    fn a_synced_node() {
        let g = Galera::of(&answer(&[("wsrep_on", "ON")], &SYNCED_NODE)).unwrap();
        assert!(g.primary() && g.ready && g.connected && g.synced());
        assert_eq!(g.cluster_size, Some(3.0));
        assert_eq!(g.recv_queue, Some(0.0));
        assert_eq!(g.flow_control_paused_percent, Some(1.25));
        assert_eq!(g.state_words(), "Synced");
    }

    #[test]
    fn a_donor_in_a_non_primary_component() {
        let mut status = SYNCED_NODE.to_vec();
        status[0].1 = "non-Primary";
        status[1].1 = "OFF";
        status[3].1 = "2";
        status[4].1 = "Donor/Desynced";
        let g = Galera::of(&answer(&[("wsrep_on", "ON")], &status)).unwrap();
        assert!(!g.primary() && !g.ready && !g.synced());
        assert_eq!(g.state_words(), "Donor/Desynced");
        assert_eq!(g.local_state, Some(2.0));
    }

    #[test]
    fn a_server_without_a_provider_is_no_galera_node() {
        // What this machine's MariaDB shows: wsrep_% status, wsrep_on OFF.
        let status = [
            ("wsrep_cluster_status", "Disconnected"),
            ("wsrep_ready", "OFF"),
            ("wsrep_connected", "OFF"),
            ("wsrep_cluster_size", "0"),
        ];
        assert_eq!(Galera::of(&answer(&[("wsrep_on", "OFF")], &status)), None);
        // MySQL has neither.
        assert_eq!(Galera::of(&answer(&[("version", "8.4.3")], &[])), None);
    }

    #[test]
    fn missing_figures_stay_missing() {
        let status = [(
            "wsrep_local_state_comment",
            "Joining: receiving State Transfer",
        )];
        let g = Galera::of(&answer(&[("wsrep_on", "on")], &status)).unwrap();
        assert_eq!(g.local_state, None);
        assert!(!g.synced() && !g.primary() && !g.ready);
        assert_eq!(g.cluster_size, None);
        assert_eq!(g.state_words(), "Joining: receiving State Transfer");
    }
}
