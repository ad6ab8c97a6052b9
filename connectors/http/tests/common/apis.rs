//! Loopback servers answering as four well-known APIs do, with the response bodies their public
//! documentation shows: Elasticsearch's cluster health, Consul's checks in a state, the
//! Kubernetes API server's /healthz and /readyz, Vault's sys/health with its status codes.

use dbmon_test_support::{HttpServer, Reply};

/// `GET /_cluster/health`, the example of Elasticsearch's "Cluster health API" page: a
/// one-node cluster with one unassigned replica, hence yellow.
pub const ES_HEALTH: &str = r#"{
  "cluster_name" : "testcluster",
  "status" : "yellow",
  "timed_out" : false,
  "number_of_nodes" : 1,
  "number_of_data_nodes" : 1,
  "active_primary_shards" : 1,
  "active_shards" : 1,
  "relocating_shards" : 0,
  "initializing_shards" : 0,
  "unassigned_shards" : 1,
  "unassigned_primary_shards" : 0,
  "delayed_unassigned_shards": 0,
  "number_of_pending_tasks" : 0,
  "number_of_in_flight_fetch": 0,
  "task_max_waiting_in_queue_millis": 0,
  "active_shards_percent_as_number": 50.0
}"#;

/// `GET /v1/health/state/critical`: the array of health checks of Consul's "List Checks in
/// State" example, in the critical state (a node check, with empty service fields, and a
/// service check).
pub const CONSUL_CRITICAL: &str = r#"[
  {
    "Node": "foobar",
    "CheckID": "serfHealth",
    "Name": "Serf Health Status",
    "Status": "critical",
    "Notes": "",
    "Output": "Agent not live or unreachable",
    "ServiceID": "",
    "ServiceName": "",
    "ServiceTags": [],
    "Namespace": "default"
  },
  {
    "Node": "foobar",
    "CheckID": "service:redis",
    "Name": "Service 'redis' check",
    "Status": "critical",
    "Notes": "",
    "Output": "dial tcp 127.0.0.1:6379: connect: connection refused",
    "ServiceID": "redis",
    "ServiceName": "redis",
    "ServiceTags": ["primary"],
    "Namespace": "default"
  }
]"#;

/// `GET /readyz?verbose` of a ready API server (Kubernetes "API endpoints for health").
pub const KUBE_READYZ_OK: &str = "[+]ping ok
[+]log ok
[+]etcd ok
[+]informer-sync ok
[+]poststarthook/start-apiextensions-informers ok
[+]poststarthook/start-apiextensions-controllers ok
[+]poststarthook/crd-informer-synced ok
[+]poststarthook/bootstrap-controller ok
[+]poststarthook/rbac/bootstrap-roles ok
[+]poststarthook/scheduling/bootstrap-system-priority-classes ok
[+]poststarthook/apiservice-registration-controller ok
[+]shutdown ok
readyz check passed
";

/// The same with etcd down: HTTP 500, the failing check withheld as the docs show.
pub const KUBE_READYZ_ETCD_DOWN: &str = "[+]ping ok
[+]log ok
[-]etcd failed: reason withheld
[+]informer-sync ok
[+]poststarthook/start-apiextensions-informers ok
[+]poststarthook/start-apiextensions-controllers ok
[-]poststarthook/crd-informer-synced failed: reason withheld
[+]poststarthook/bootstrap-controller ok
[+]shutdown ok
readyz check failed
";

/// `GET /v1/sys/health` of an active node, as Vault's "/sys/health" page shows it (with the
/// fields newer releases add).
pub const VAULT_ACTIVE: &str = r#"{
  "initialized": true,
  "sealed": false,
  "standby": false,
  "performance_standby": false,
  "replication_performance_mode": "disabled",
  "replication_dr_mode": "disabled",
  "server_time_utc": 1516639589,
  "version": "1.15.2",
  "enterprise": false,
  "cluster_name": "vault-cluster-3bd69ca2",
  "cluster_id": "00af5aa8-c87d-b5fc-e82e-97cd8dfaf731",
  "echo_duration_ms": 0,
  "clock_skew_ms": 0
}"#;

/// The same node as an unsealed standby (HTTP 429).
pub const VAULT_STANDBY: &str = r#"{
  "initialized": true,
  "sealed": false,
  "standby": true,
  "performance_standby": false,
  "replication_performance_mode": "disabled",
  "replication_dr_mode": "disabled",
  "server_time_utc": 1516639590,
  "version": "1.15.2",
  "enterprise": false,
  "cluster_name": "vault-cluster-3bd69ca2",
  "cluster_id": "00af5aa8-c87d-b5fc-e82e-97cd8dfaf731"
}"#;

/// A sealed node (HTTP 503): it knows neither its cluster nor its replication.
pub const VAULT_SEALED: &str = r#"{
  "initialized": true,
  "sealed": true,
  "standby": true,
  "performance_standby": false,
  "replication_performance_mode": "unknown",
  "replication_dr_mode": "unknown",
  "server_time_utc": 1516639591,
  "version": "1.15.2",
  "enterprise": false
}"#;

/// A node never initialised (HTTP 501).
pub const VAULT_UNINITIALIZED: &str = r#"{
  "initialized": false,
  "sealed": true,
  "standby": true,
  "performance_standby": false,
  "replication_performance_mode": "unknown",
  "replication_dr_mode": "unknown",
  "server_time_utc": 1516639592,
  "version": "1.15.2",
  "enterprise": false
}"#;

/// `text/plain; charset=utf-8`, as the Kubernetes API server sends.
pub fn plain(body: &str) -> Reply {
    Reply {
        content_type: "text/plain; charset=utf-8".into(),
        ..Reply::text(body)
    }
}

/// An Elasticsearch node.
pub async fn elasticsearch() -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/_cluster/health", Reply::json(ES_HEALTH));
    server
}

/// A Consul agent with two critical checks.
pub async fn consul() -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/v1/health/state/critical", Reply::json(CONSUL_CRITICAL));
    server
}

/// A ready Kubernetes API server.
pub async fn kube_apiserver() -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/healthz", plain("ok"));
    server.set("/readyz", plain(KUBE_READYZ_OK));
    server
}

/// A Vault node answering `body` with `status`.
pub async fn vault(status: u16, body: &str) -> HttpServer {
    let server = HttpServer::start().await;
    server.set("/v1/sys/health", Reply::json(body).with_status(status));
    server
}
