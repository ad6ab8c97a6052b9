//! Faults the running demo injects on request, and `heal`, which undoes them: each answer says
//! what was done and what dbmon should show (which cluster, which status, which reason) and
//! within how long.

use super::clusters::{CRDB, Clusters, ETCD, INTERVAL_SECS, PG, PG_REPLICA, REDIS, SYSTEM};
use std::time::Duration;

/// A fault's name as `cargo xtask demo fault NAME` takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    EtcdMemberDown,
    RedisMasterDown,
    PgReplicaDown,
    CrdbNodeDraining,
    Heal,
}

/// Every fault with its one-line description, for the usage and the demo's banner.
pub const FAULTS: [(Fault, &str, &str); 5] = [
    (
        Fault::EtcdMemberDown,
        "etcd-member-down",
        "stops an etcd member (not the leader)",
    ),
    (
        Fault::RedisMasterDown,
        "redis-master-down",
        "kills the Redis master of a third of the slots; its replica takes over",
    ),
    (
        Fault::PgReplicaDown,
        "pg-replica-down",
        "stops the PostgreSQL replica (immediate shutdown)",
    ),
    (
        Fault::CrdbNodeDraining,
        "crdb-node-draining",
        "CockroachDB node 2 drains (nodes API DRAINING, /health?ready=1 503)",
    ),
    (
        Fault::Heal,
        "heal",
        "restarts what the faults stopped, on the same ports, and undrains node 2",
    ),
];

impl Fault {
    pub fn from_name(name: &str) -> Option<Fault> {
        FAULTS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, _)| *f)
    }

    /// The id of the cluster it turns; `None` for `heal`, which touches every one.
    pub fn cluster(self) -> Option<&'static str> {
        match self {
            Fault::EtcdMemberDown => Some(ETCD),
            Fault::RedisMasterDown => Some(REDIS),
            Fault::PgReplicaDown => Some(PG),
            Fault::CrdbNodeDraining => Some(CRDB),
            Fault::Heal => None,
        }
    }
}

/// What the faults stopped.
#[derive(Default)]
pub struct Down {
    /// The stopped etcd member's name.
    etcd_member: Option<String>,
    /// The killed Redis node's index.
    redis_node: Option<usize>,
    pg_replica: bool,
    crdb_draining: bool,
}

/// "within 4 s (two intervals of 2 s)".
fn within() -> String {
    format!(
        "within {} s (two collection intervals of {INTERVAL_SECS} s)",
        2 * INTERVAL_SECS
    )
}

fn absent(kind: &str) -> String {
    format!("error: this demo runs no {kind} cluster (see what it said when it started)")
}

impl Clusters {
    /// Injects `fault` (blocking: it stops and starts processes); the text to show, or an
    /// error text.
    pub fn inject(&mut self, fault: Fault, rt: &tokio::runtime::Handle) -> String {
        match fault {
            Fault::EtcdMemberDown => self.etcd_member_down(rt),
            Fault::RedisMasterDown => self.redis_master_down(),
            Fault::PgReplicaDown => self.pg_replica_down(),
            Fault::CrdbNodeDraining => self.crdb_node_draining(),
            Fault::Heal => self.heal(rt),
        }
    }

    fn etcd_member_down(&mut self, rt: &tokio::runtime::Handle) -> String {
        let Some(etcd) = self.etcd.as_mut() else {
            return absent("etcd");
        };
        if let Some(name) = &self.down.etcd_member {
            return format!("error: etcd member {name} is down already; `heal` first");
        }
        // Not the leader: its loss would add an election (UNHEALTHY for a collection).
        let status = rt.block_on(etcd.post("/v3/maintenance/status", "{}", None));
        let leader = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|s| s["leader"].as_str().map(String::from))
            .unwrap_or_default();
        let names: Vec<String> = etcd.members.iter().map(|m| m.name.clone()).collect();
        let mut victim = names.last().cloned().unwrap_or_default();
        for name in names.iter().rev() {
            if rt.block_on(etcd.member_id(name)) != leader {
                victim = name.clone();
                break;
            }
        }
        let member = etcd.member(&victim);
        member.stop();
        let url = member.client_url.clone();
        self.down.etcd_member = Some(victim.clone());
        format!(
            "stopped etcd member {victim} ({url}).\n\
             dbmon should show {ETCD} DEGRADED {}, with the reason\n  \
             member {victim} ({url}) not answering: POST {url}/v3/maintenance/status: ... Connection refused ...\n\
             The other two members keep the quorum. `cargo xtask demo fault heal` starts it again.",
            within()
        )
    }

    fn redis_master_down(&mut self) -> String {
        let Some(redis) = self.redis.as_mut() else {
            return absent("redis");
        };
        if let Some(index) = self.down.redis_node {
            let address = redis.nodes[index].address();
            return format!("error: Redis node {address} is down already; `heal` first");
        }
        // Node 0 answers the cluster's questions here, so another master is the victim.
        let masters = redis.masters();
        let Some(&victim) = masters.iter().rev().find(|&&m| m != 0) else {
            return "error: no Redis master besides node 0".into();
        };
        let address = redis.nodes[victim].address();
        let nodes = redis.nodes[0].run(None, &["CLUSTER", "NODES"]);
        let line = nodes
            .lines()
            .find(|l| {
                l.split(' ')
                    .nth(1)
                    .is_some_and(|a| a.starts_with(&format!("{address}@")))
            })
            .unwrap_or_default();
        let fields: Vec<&str> = line.split(' ').collect();
        let id: String = fields
            .first()
            .map(|i| i.chars().take(8).collect())
            .unwrap_or_default();
        let slots = fields.get(8..).map(|s| s.join(" ")).unwrap_or_default();
        let count: u32 = slots
            .split(' ')
            .filter_map(|range| {
                let (first, last) = range.split_once('-').unwrap_or((range, range));
                Some(last.parse::<u32>().ok()? + 1 - first.parse::<u32>().ok()?)
            })
            .sum();
        redis.nodes[victim].kill();
        self.down.redis_node = Some(victim);
        let timeout = dbmon_test_support::redis::NODE_TIMEOUT_MS;
        format!(
            "killed the Redis master {address} (node {id}, slots {slots}).\n\
             dbmon should show {REDIS} not healthy {}: first DEGRADED with\n  \
             node {address} (master, {id}) not answering: cannot connect: Connection refused (os error 111)\n\
             then, until its replica takes over (the cluster's node timeout is {timeout} ms), \
             UNHEALTHY with\n  \
             cluster_state is fail (as seen by node ...): the cluster refuses queries\n  \
             {count} slots are failing (cluster_slots_fail): their master is down and no replica has taken over\n\
             and once the replica is master, DEGRADED with\n  \
             master 127.0.0.1:... (...) serving slots {slots} has no healthy replica (min_replicas_per_master is 1)\n  \
             node {address} (master, {id}) is marked failed by the cluster and does not answer: ...\n\
             `heal` starts it again on its port; it rejoins as a replica (HEALTHY once it has synced).",
            within()
        )
    }

    fn pg_replica_down(&mut self) -> String {
        let Some(pg) = self.pg.as_mut() else {
            return absent("postgres");
        };
        if self.down.pg_replica {
            return "error: the PostgreSQL replica is down already; `heal` first".into();
        }
        pg.replica.stop();
        self.down.pg_replica = true;
        let replica = pg.replica.endpoint();
        format!(
            "stopped the PostgreSQL replica {replica} ({PG_REPLICA}, immediate shutdown).\n\
             dbmon should show {PG} DEGRADED {}, with the reasons\n  \
             node {replica} not answering: cannot connect: ... Connection refused ...\n  \
             expected replica '{PG_REPLICA}' is not streaming from any node (streaming: none)\n\
             `heal` starts it again on the same port; it resumes streaming.",
            within()
        )
    }

    fn crdb_node_draining(&mut self) -> String {
        let Some(crdb) = self.crdb.as_ref() else {
            return absent("cockroachdb");
        };
        if self.down.crdb_draining {
            return "error: CockroachDB node 2 is draining already; `heal` first".into();
        }
        crdb.set_draining(1, true);
        self.down.crdb_draining = true;
        format!(
            "CockroachDB node 2 ({}) is draining: the nodes API says DRAINING and \
             /health?ready=1 answers 503.\n\
             dbmon should show {CRDB} DEGRADED {}, with the reasons\n  \
             node 2 (roach2:26257) is draining (node liveness)\n  \
             node 2 (roach2:26257) not ready: node is not healthy (GET /health?ready=1: HTTP 503)\n\
             `heal` makes it LIVE again.",
            crdb.endpoints()[1],
            within()
        )
    }

    fn heal(&mut self, rt: &tokio::runtime::Handle) -> String {
        let mut done = Vec::new();
        if let (Some(name), Some(etcd)) = (self.down.etcd_member.take(), self.etcd.as_mut()) {
            etcd.member(&name).restart();
            rt.block_on(etcd.wait_healthy(Duration::from_secs(30)));
            done.push(format!("started etcd member {name} again"));
        }
        if let (Some(index), Some(redis)) = (self.down.redis_node.take(), self.redis.as_mut()) {
            redis.nodes[index].restart();
            done.push(format!(
                "started Redis node {} again (it rejoins as a replica)",
                redis.nodes[index].address()
            ));
        }
        if let Some(pg) = self.pg.as_mut().filter(|_| self.down.pg_replica) {
            pg.replica.restart();
            self.down.pg_replica = false;
            done.push(format!(
                "started the PostgreSQL replica {} again",
                pg.replica.endpoint()
            ));
        }
        if let Some(crdb) = self.crdb.as_ref().filter(|_| self.down.crdb_draining) {
            crdb.set_draining(1, false);
            self.down.crdb_draining = false;
            done.push("CockroachDB node 2 is live again".into());
        }
        if done.is_empty() {
            return "nothing to heal: no fault is active.".into();
        }
        format!(
            "{}.\ndbmon should show every cluster HEALTHY again within about 10 s (a restarted \
             server needs a moment to rejoin: the Redis node to sync from its master, the \
             replica to stream again). {SYSTEM} is this machine's own verdict.",
            done.join("; ")
        )
    }
}
