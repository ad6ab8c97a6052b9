//! The demo's clusters, started with the test-support code the connectors' tests use: a
//! three-member etcd, a six-node Redis Cluster, a PostgreSQL primary with a streaming replica
//! and a loopback server speaking CockroachDB's HTTP formats for three nodes, each on free
//! loopback ports in the demo's folder. A kind whose programs are missing is skipped with the
//! package to install; one that fails to start is skipped with its error.

use dbmon_test_support::{
    cockroach::{FakeCluster, Generation, Node},
    etcd, postgres,
    postgres::PgServer,
    redis,
};
use std::{fmt::Write, path::Path};

/// Time between collections of every demo cluster: a fault shows within two of them.
pub const INTERVAL_SECS: u64 = 2;

/// The CockroachDB nodes API login the demo's fake cluster accepts.
pub const CRDB_USER: &str = "monitor";

/// The etcd cluster's id in the demo's dbmon.yaml (its members are `demo-etcd1..3`).
pub const ETCD: &str = "demo-etcd";
/// The Redis Cluster's id.
pub const REDIS: &str = "demo-redis";
/// The PostgreSQL pair's id.
pub const PG: &str = "demo-pg";
/// The CockroachDB-format cluster's id.
pub const CRDB: &str = "demo-crdb";
/// This machine's id, as in the default dbmon.yaml.
pub const SYSTEM: &str = "local";

/// The PostgreSQL primary's `cluster_name`.
pub const PG_PRIMARY: &str = "demo-primary";
/// The replica's `cluster_name`: its `application_name` on the primary, which the cluster's
/// `expected_replicas` names.
pub const PG_REPLICA: &str = "demo-replica";

/// A primary and its streaming replica.
pub struct Pg {
    pub primary: PgServer,
    pub replica: PgServer,
}

/// Every cluster the demo runs, and what it could not.
pub struct Clusters {
    pub etcd: Option<etcd::Cluster>,
    pub redis: Option<redis::Cluster>,
    pub pg: Option<Pg>,
    pub crdb: Option<FakeCluster>,
    /// The password of [`CRDB_USER`], made up at each start.
    pub crdb_password: String,
    /// One line per kind left out: why, and what to install.
    pub skipped: Vec<String>,
    /// What the faults stopped, for `heal`.
    pub down: super::faults::Down,
}

/// Whether `program` is on the PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    })
}

/// The text of a caught panic.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "it panicked".into())
}

/// What a start came to: the cluster, or the line that says why there is none.
fn outcome<T>(
    kind: &str,
    joined: Result<T, tokio::task::JoinError>,
    skipped: &mut Vec<String>,
) -> Option<T> {
    match joined {
        Ok(cluster) => Some(cluster),
        Err(e) => {
            let why = if e.is_panic() {
                panic_text(e.into_panic())
            } else {
                e.to_string()
            };
            let first = why.lines().next().unwrap_or_default().to_string();
            skipped.push(format!(
                "{kind}: could not start ({first}); going on without it"
            ));
            None
        }
    }
}

impl Clusters {
    /// Starts every kind whose programs are installed, side by side.
    pub async fn start() -> Clusters {
        let mut skipped = Vec::new();
        let missing = |kind: &str, program: &str, package: &str| {
            format!(
                "{kind}: `{program}` is not installed: `sudo apt-get install {package}`; going on without it"
            )
        };
        let etcd = on_path("etcd").then(|| tokio::spawn(etcd::Cluster::start(ETCD, 3, &[])));
        if etcd.is_none() {
            skipped.push(missing("etcd", "etcd", "etcd-server"));
        }
        let have_redis = on_path("redis-server") && on_path("redis-cli");
        let redis = have_redis.then(|| tokio::task::spawn_blocking(redis::Cluster::start));
        if redis.is_none() {
            skipped.push(missing("redis", "redis-server", "redis-server"));
        }
        let pg = postgres::installed().map(|_| {
            tokio::task::spawn_blocking(|| {
                let primary = PgServer::primary(PG_PRIMARY);
                let replica = PgServer::replica_of(&primary, PG_REPLICA);
                primary.wait_streaming(PG_REPLICA);
                Pg { primary, replica }
            })
        });
        if pg.is_none() {
            skipped.push(missing(
                "postgres",
                "/usr/lib/postgresql/N/bin/postgres",
                "postgresql",
            ));
        }
        let crdb_password = format!("demo-{}-{}", std::process::id(), etcd::free_port());
        let login = (CRDB_USER.to_string(), crdb_password.clone());
        let crdb = tokio::spawn(async move {
            let nodes = (1..=3).map(|id| Node::new(id, Generation::V22)).collect();
            let cluster = FakeCluster::start(nodes).await;
            cluster.with(|state| state.login = Some(login));
            cluster
        });
        let mut clusters = Clusters {
            etcd: None,
            redis: None,
            pg: None,
            crdb: None,
            crdb_password,
            skipped: Vec::new(),
            down: Default::default(),
        };
        if let Some(task) = etcd {
            clusters.etcd = outcome("etcd", task.await, &mut skipped);
        }
        if let Some(task) = redis {
            clusters.redis = outcome("redis", task.await, &mut skipped);
        }
        if let Some(task) = pg {
            clusters.pg = outcome("postgres", task.await, &mut skipped);
        }
        clusters.crdb = outcome("cockroachdb", crdb.await, &mut skipped);
        clusters.skipped = skipped;
        clusters
    }

    /// The ids of the clusters in the demo's dbmon.yaml.
    pub fn ids(&self) -> Vec<&'static str> {
        let mut ids = Vec::new();
        for (id, present) in [
            (ETCD, self.etcd.is_some()),
            (REDIS, self.redis.is_some()),
            (PG, self.pg.is_some()),
            (CRDB, self.crdb.is_some()),
        ] {
            if present {
                ids.push(id);
            }
        }
        ids.push(SYSTEM);
        ids
    }

    /// The `clusters:` of the demo's dbmon.yaml (the CockroachDB password goes to a file in
    /// `folder`).
    pub fn config(&self, folder: &Path) -> std::io::Result<String> {
        let mut yaml = String::from("clusters:\n");
        let quoted = |urls: &[String]| {
            let list: Vec<String> = urls.iter().map(|u| format!("'{u}'")).collect();
            format!("[{}]", list.join(", "))
        };
        if let Some(etcd) = &self.etcd {
            let _ = writeln!(
                yaml,
                "  - id: {ETCD}\n    connector: etcd\n    endpoints: {}\n    options: {{}}",
                quoted(&etcd.endpoints())
            );
        }
        if let Some(redis) = &self.redis {
            let _ = writeln!(
                yaml,
                "  - id: {REDIS}\n    connector: redis\n    endpoints: {}\n    options: {{}}",
                quoted(&redis.urls())
            );
        }
        if let Some(pg) = &self.pg {
            let endpoints = [pg.primary.endpoint(), pg.replica.endpoint()]
                .map(|e| format!("postgres://{e}/postgres"));
            let _ = writeln!(
                yaml,
                "  - id: {PG}\n    connector: postgres\n    endpoints: {}\n    auth: {{ username: {} }}\n    \
                 options: {{ expected_replicas: [{PG_REPLICA}] }}",
                quoted(&endpoints),
                postgres::SUPERUSER
            );
        }
        if let Some(crdb) = &self.crdb {
            let secret = folder.join("crdb-password");
            std::fs::write(&secret, format!("{}\n", self.crdb_password))?;
            let _ = writeln!(
                yaml,
                "  - id: {CRDB}\n    connector: cockroachdb\n    endpoints: {}\n    \
                 auth: {{ username: {CRDB_USER}, password_file: crdb-password }}\n    options: {{}}",
                quoted(&crdb.endpoints())
            );
        }
        let _ = writeln!(
            yaml,
            "  - id: {SYSTEM}\n    connector: system\n    options: {{ disk_used_degraded_percent: 90, disk_used_unhealthy_percent: 95 }}"
        );
        Ok(yaml)
    }

    /// One line per cluster for the summary.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(etcd) = &self.etcd {
            lines.push(format!(
                "{ETCD:<11} etcd, 3 members: {}",
                etcd.endpoints().join(" ")
            ));
        }
        if let Some(redis) = &self.redis {
            let ports: Vec<String> = redis.nodes.iter().map(|n| n.port.to_string()).collect();
            lines.push(format!(
                "{REDIS:<11} Redis Cluster, 3 masters + 3 replicas on 127.0.0.1 ports {}",
                ports.join(" ")
            ));
        }
        if let Some(pg) = &self.pg {
            lines.push(format!(
                "{PG:<11} PostgreSQL primary {} with streaming replica {} ({PG_REPLICA})",
                pg.primary.endpoint(),
                pg.replica.endpoint()
            ));
        }
        if let Some(crdb) = &self.crdb {
            lines.push(format!(
                "{CRDB:<11} CockroachDB's HTTP formats, 3 nodes (a loopback server, not CockroachDB): {}",
                crdb.endpoints().join(" ")
            ));
        }
        lines.push(format!("{SYSTEM:<11} this machine (system connector)"));
        lines
    }
}
