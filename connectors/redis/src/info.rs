//! The figures the connector reads from one node's `INFO` text (`field:value` lines under
//! `# Section` headings).

/// What one node's `INFO` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerInfo {
    /// `redis_version`.
    pub version: String,
    /// `cluster_enabled:1`.
    pub cluster_enabled: bool,
    /// `role:slave` (a replica) rather than `role:master`.
    pub replica: bool,
    /// `loading:1`: the node is still loading its dataset.
    pub loading: bool,
    /// `uptime_in_seconds`.
    pub uptime_seconds: f64,
    /// `used_memory`.
    pub used_memory: f64,
    /// `maxmemory`; 0 when the node has no limit.
    pub maxmemory: f64,
    /// `total_system_memory`, when the server reports it (Redis 3.2 and later).
    pub total_system_memory: Option<f64>,
    /// `instantaneous_ops_per_sec`.
    pub ops_per_second: f64,
    /// `connected_clients`.
    pub connected_clients: f64,
    /// `keys=` summed over the `dbN` lines of the keyspace section.
    pub keys: f64,
    /// `master_repl_offset`.
    pub master_repl_offset: Option<f64>,
    /// `slaveN:` lines of a master: its connected replicas.
    pub replicas: Vec<ReplicaLine>,
    /// `master_host:master_port` of a replica.
    pub master: Option<String>,
    /// `master_link_status:up` of a replica.
    pub master_link_up: bool,
}

/// One `slaveN:ip=...,port=...,state=...,offset=...,lag=...` line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaLine {
    /// `ip:port` of the replica.
    pub address: String,
    /// `state` (`online`, `wait_bgsave`, `send_bulk`).
    pub state: String,
    /// The replication offset the replica has acknowledged.
    pub offset: f64,
}

impl ServerInfo {
    /// The memory limit used for `memory_used_percent`: `maxmemory`, or the machine's memory
    /// when the node has no limit. `None` when neither is known.
    pub fn memory_limit(&self) -> Option<(f64, &'static str)> {
        if self.maxmemory > 0.0 {
            Some((self.maxmemory, "maxmemory"))
        } else {
            self.total_system_memory
                .filter(|m| *m > 0.0)
                .map(|m| (m, "system"))
        }
    }

    /// `used_memory` as a percentage of [`memory_limit`](Self::memory_limit).
    pub fn memory_used_percent(&self) -> Option<f64> {
        self.memory_limit()
            .map(|(limit, _)| self.used_memory / limit * 100.0)
    }
}

/// Parses `INFO` output. Unknown and malformed lines are skipped: servers add fields in every
/// release, and forks (Valkey, KeyDB) add their own.
pub fn parse(text: &str) -> ServerInfo {
    let mut info = ServerInfo::default();
    let mut master_host = None;
    let mut master_port = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = || value.parse::<f64>().unwrap_or(0.0);
        match key {
            "redis_version" => info.version = value.to_string(),
            "cluster_enabled" => info.cluster_enabled = value == "1",
            "role" => info.replica = value == "slave",
            "loading" => info.loading = value == "1",
            "uptime_in_seconds" => info.uptime_seconds = number(),
            "used_memory" => info.used_memory = number(),
            "maxmemory" => info.maxmemory = number(),
            "total_system_memory" => info.total_system_memory = Some(number()),
            "instantaneous_ops_per_sec" => info.ops_per_second = number(),
            "connected_clients" => info.connected_clients = number(),
            "master_repl_offset" => info.master_repl_offset = value.parse().ok(),
            "master_host" => master_host = Some(value),
            "master_port" => master_port = Some(value),
            "master_link_status" => info.master_link_up = value == "up",
            _ if is_numbered(key, "db") => info.keys += field(value, "keys").unwrap_or(0.0),
            _ if is_numbered(key, "slave") => {
                if let Some(replica) = replica_line(value) {
                    info.replicas.push(replica);
                }
            }
            _ => {}
        }
    }
    if let (Some(host), Some(port)) = (master_host, master_port) {
        info.master = Some(match port.parse::<u16>() {
            Ok(port) => crate::options::address(host, port),
            Err(_) => format!("{host}:{port}"),
        });
    }
    info
}

/// `db0`, `slave12`: the prefix followed by digits only.
fn is_numbered(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The value of `name=` in `a=1,b=2`.
fn text_field<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn field(value: &str, name: &str) -> Option<f64> {
    text_field(value, name)?.parse().ok()
}

fn replica_line(value: &str) -> Option<ReplicaLine> {
    let ip = text_field(value, "ip")?;
    let port: u16 = text_field(value, "port")?.parse().ok()?;
    Some(ReplicaLine {
        address: crate::options::address(ip, port),
        state: text_field(value, "state").unwrap_or("").to_string(),
        offset: field(value, "offset")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n\
        uptime_in_seconds:42\r\n\r\n# Clients\r\nconnected_clients:3\r\n\r\n# Memory\r\n\
        used_memory:1048576\r\nmaxmemory:4194304\r\ntotal_system_memory:25000000000\r\n\
        # Persistence\r\nloading:0\r\n# Stats\r\ninstantaneous_ops_per_sec:17\r\n\
        # Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
        slave0:ip=10.0.0.2,port=7004,state=online,offset=1000,lag=0\r\n\
        slave1:ip=::1,port=7005,state=wait_bgsave,offset=0,lag=1\r\n\
        master_repl_offset:1500\r\n# Cluster\r\ncluster_enabled:1\r\n\
        # Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb12:keys=2,expires=0,avg_ttl=0\r\n";

    #[test]
    fn a_master_with_replicas() {
        let info = parse(MASTER);
        assert_eq!(info.version, "7.0.15");
        assert!(info.cluster_enabled && !info.replica && !info.loading);
        assert_eq!(info.connected_clients, 3.0);
        assert_eq!(info.ops_per_second, 17.0);
        assert_eq!(info.keys, 5.0);
        assert_eq!(info.master_repl_offset, Some(1500.0));
        assert_eq!(info.replicas.len(), 2);
        assert_eq!(info.replicas[0].address, "10.0.0.2:7004");
        assert_eq!(info.replicas[1].address, "[::1]:7005");
        assert_eq!(info.replicas[1].state, "wait_bgsave");
        assert_eq!(info.memory_limit(), Some((4194304.0, "maxmemory")));
        assert_eq!(info.memory_used_percent(), Some(25.0));
    }

    #[test]
    fn a_replica_without_maxmemory() {
        let info = parse(
            "role:slave\nmaster_host:10.0.0.1\nmaster_port:7001\nmaster_link_status:down\n\
             used_memory:1000\nmaxmemory:0\ntotal_system_memory:4000\n",
        );
        assert!(info.replica && !info.master_link_up);
        assert_eq!(info.master.as_deref(), Some("10.0.0.1:7001"));
        assert_eq!(info.memory_limit(), Some((4000.0, "system")));
        assert_eq!(info.memory_used_percent(), Some(25.0));
        assert_eq!(parse("maxmemory:0\n").memory_used_percent(), None);
    }
}
