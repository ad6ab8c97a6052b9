//! A Redis Cluster as one node sees it: `CLUSTER INFO` (state and slot counts) and
//! `CLUSTER NODES` (every node with its flags, master and slots).

/// The slots of a Redis Cluster.
pub const SLOTS: f64 = 16384.0;

/// `CLUSTER INFO` of one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterInfo {
    /// `cluster_state` (`ok` or `fail`).
    pub state: String,
    /// `cluster_slots_assigned`.
    pub slots_assigned: f64,
    /// `cluster_slots_ok`.
    pub slots_ok: f64,
    /// `cluster_slots_pfail`.
    pub slots_pfail: f64,
    /// `cluster_slots_fail`.
    pub slots_fail: f64,
    /// `cluster_known_nodes`.
    pub known_nodes: f64,
}

/// Parses `CLUSTER INFO`.
pub fn parse_info(text: &str) -> ClusterInfo {
    let mut info = ClusterInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim_end_matches('\r').split_once(':') else {
            continue;
        };
        let number = || value.parse::<f64>().unwrap_or(0.0);
        match key {
            "cluster_state" => info.state = value.to_string(),
            "cluster_slots_assigned" => info.slots_assigned = number(),
            "cluster_slots_ok" => info.slots_ok = number(),
            "cluster_slots_pfail" => info.slots_pfail = number(),
            "cluster_slots_fail" => info.slots_fail = number(),
            "cluster_known_nodes" => info.known_nodes = number(),
            _ => {}
        }
    }
    info
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterNode {
    /// The node's 40-character id.
    pub id: String,
    /// IP (or announced host), empty for a node without address (`noaddr`).
    pub host: String,
    /// Client port; 0 when unknown.
    pub port: u16,
    /// Flags: `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, ...
    pub flags: Vec<String>,
    /// The id of its master, for a replica.
    pub master_id: Option<String>,
    /// `link-state` is `connected` (always so for `myself`).
    pub link_connected: bool,
    /// Number of slots it serves.
    pub slots: u32,
    /// The slot ranges it serves, as written (`0-5460 10923`).
    pub slot_ranges: String,
}

impl ClusterNode {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
    /// Flagged `master`.
    pub fn is_master(&self) -> bool {
        self.has("master")
    }
    /// Flagged `slave`.
    pub fn is_replica(&self) -> bool {
        self.has("slave")
    }
    /// The line of the node that answered.
    pub fn is_myself(&self) -> bool {
        self.has("myself")
    }
    /// Flagged `fail`: the cluster agreed it is down.
    pub fn failed(&self) -> bool {
        self.has("fail")
    }
    /// Flagged `fail?` (PFAIL): a node suspects it is down.
    pub fn suspected(&self) -> bool {
        self.has("fail?")
    }
    /// Flagged `handshake`: first contact not yet complete.
    pub fn handshake(&self) -> bool {
        self.has("handshake")
    }
    /// Flagged `noaddr`, or no address at all.
    pub fn no_address(&self) -> bool {
        self.has("noaddr") || self.host.is_empty() || self.port == 0
    }
    /// `master` or `replica`; `None` for a node in handshake or without address, which has
    /// neither flag yet.
    pub fn role(&self) -> Option<&'static str> {
        if self.is_replica() {
            Some("replica")
        } else if self.is_master() {
            Some("master")
        } else {
            None
        }
    }
    /// `host:port`, or the node id when the address is unknown.
    pub fn address(&self) -> String {
        if self.no_address() {
            self.id.clone()
        } else {
            crate::options::address(&self.host, self.port)
        }
    }
    /// The first 8 characters of the id, as operators quote it.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// Parses `CLUSTER NODES`; lines that do not have the documented eight fields are skipped.
pub fn parse_nodes(text: &str) -> Vec<ClusterNode> {
    text.lines().filter_map(parse_node).collect()
}

fn parse_node(line: &str) -> Option<ClusterNode> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    // ip:port@cport[,hostname]; the IP may be IPv6 (colons), so split at the last colon.
    let endpoint = fields[1].split(['@', ',']).next().unwrap_or("");
    let (ip, port) = endpoint.rsplit_once(':')?;
    let port = port.parse::<u16>().unwrap_or(0);
    let host = ip.trim_start_matches('[').trim_end_matches(']').to_string();
    let mut slots = 0;
    let mut ranges = Vec::new();
    for slot in &fields[8..] {
        // [slot->-id] and [slot-<-id] are migrations in progress, not served slots.
        if slot.starts_with('[') {
            continue;
        }
        let count = match slot.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => continue,
            },
            None if slot.parse::<u32>().is_ok() => 1,
            None => continue,
        };
        slots += count;
        ranges.push(*slot);
    }
    Some(ClusterNode {
        id: fields[0].to_string(),
        host,
        port,
        flags: fields[2].split(',').map(String::from).collect(),
        master_id: (fields[3] != "-").then(|| fields[3].to_string()),
        link_connected: fields[7] == "connected",
        slots,
        slot_ranges: ranges.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The documented format: id ip:port@cport[,hostname] flags master ping pong epoch link slots.
    const NODES: &str = "\
aaaaaaaa11111111111111111111111111111111 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
bbbbbbbb22222222222222222222222222222222 127.0.0.1:7002@17002,db-2 master,fail? - 1700000000000 1700000000000 2 disconnected 5461-10922 [5461->-cccccccc33333333333333333333333333333333]
cccccccc33333333333333333333333333333333 ::1:7003@17003 master - 0 1700000000000 3 connected 10923-16382 16383
dddddddd44444444444444444444444444444444 127.0.0.1:7004@17004 slave,fail aaaaaaaa11111111111111111111111111111111 0 0 1 disconnected
eeeeeeee55555555555555555555555555555555 :0@0 noaddr,handshake - 0 0 0 disconnected
truncated line
";

    #[test]
    fn every_field_of_every_node() {
        let nodes = parse_nodes(NODES);
        assert_eq!(nodes.len(), 5);
        let a = &nodes[0];
        assert!(a.is_myself() && a.is_master() && !a.failed() && a.link_connected);
        assert_eq!((a.slots, a.address()), (5461, "127.0.0.1:7001".to_string()));
        assert_eq!(a.short_id(), "aaaaaaaa");
        let b = &nodes[1];
        assert!(b.suspected() && !b.failed() && !b.link_connected);
        assert_eq!((b.slots, b.slot_ranges.as_str()), (5462, "5461-10922"));
        assert_eq!(b.address(), "127.0.0.1:7002");
        let c = &nodes[2];
        assert_eq!((c.address(), c.slots), ("[::1]:7003".to_string(), 5461));
        let d = &nodes[3];
        assert!(d.is_replica() && d.failed() && d.role() == Some("replica"));
        assert_eq!(d.master_id.as_deref(), Some(a.id.as_str()));
        let e = &nodes[4];
        assert!(e.no_address() && e.handshake() && e.role().is_none());
        assert_eq!(e.address(), e.id);
    }

    #[test]
    fn cluster_info_fields() {
        let info = parse_info(
            "cluster_enabled:1\r\ncluster_state:fail\r\ncluster_slots_assigned:16384\r\n\
             cluster_slots_ok:10922\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:5462\r\n\
             cluster_known_nodes:6\r\ncluster_size:3\r\n",
        );
        assert_eq!(info.state, "fail");
        assert_eq!(info.slots_ok + info.slots_fail, SLOTS);
        assert_eq!(info.known_nodes, 6.0);
    }
}
