//! What the connector asks each server, and the answers as plain figures. No configured value
//! is ever pasted into SQL: the statements are constants, and the one input (the `activity`
//! row limit) is a bound parameter.

use tokio_postgres::{Client, Error, Statement};

/// The node's role, version, connections, locks, oldest transaction and recovery lag.
const NODE: &str = "\
SELECT pg_is_in_recovery(),
       current_setting('server_version_num')::int8,
       current_setting('server_version'),
       current_setting('max_connections')::int8,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       (SELECT count(*) FROM pg_locks WHERE NOT granted),
       (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8
          FROM pg_stat_activity
         WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()),
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN coalesce(pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn(), false) THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8";

/// Every database's size (NULL where the user may not see it) and transaction ID age.
const DATABASES: &str = "\
SELECT datname::text,
       CASE WHEN has_database_privilege(oid, 'CONNECT')
              OR pg_has_role('pg_read_all_stats', 'MEMBER')
            THEN pg_database_size(oid) END,
       age(datfrozenxid)::int8
  FROM pg_database
 ORDER BY datname";

/// Replicas streaming from this node (a standby's are cascaded ones); base backups left out.
const REPLICAS: &str = "\
SELECT coalesce(application_name, ''),
       coalesce(host(client_addr), 'local'),
       coalesce(state, ''),
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                            ELSE pg_current_wal_lsn() END,
                       replay_lsn)::float8,
       coalesce(extract(epoch FROM replay_lag), 0)::float8
  FROM pg_stat_replication
 WHERE state IS DISTINCT FROM 'backup'
 ORDER BY application_name, client_addr";

/// The longest-running statements of client sessions, for the `activity` command.
const ACTIVITY: &str = "\
SELECT pid,
       coalesce(usename::text, ''),
       coalesce(datname::text, ''),
       coalesce(state, ''),
       extract(epoch FROM clock_timestamp() - query_start)::float8,
       coalesce(query, '')
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid()
   AND backend_type = 'client backend'
   AND state IS DISTINCT FROM 'idle'
   AND query_start IS NOT NULL
 ORDER BY query_start
 LIMIT $1";

/// The statements, prepared once per connection.
pub struct Statements {
    node: Statement,
    databases: Statement,
    replicas: Statement,
    activity: Statement,
}

impl Statements {
    /// Prepares every statement, pipelined on the connection.
    pub async fn prepare(client: &Client) -> Result<Self, Error> {
        let (node, databases, replicas, activity) = futures::try_join!(
            client.prepare(NODE),
            client.prepare(DATABASES),
            client.prepare(REPLICAS),
            client.prepare(ACTIVITY),
        )?;
        Ok(Statements {
            node,
            databases,
            replicas,
            activity,
        })
    }
}

/// What one node said.
#[derive(Clone, Debug)]
pub struct Facts {
    /// `pg_is_in_recovery()`.
    pub standby: bool,
    /// `server_version_num` (150020 for 15.20).
    pub version_num: f64,
    /// `server_version`'s first word (`15.20`).
    pub version: String,
    /// `max_connections`.
    pub connections_max: f64,
    /// Client backends in `pg_stat_activity`.
    pub connections: f64,
    /// Lock requests not granted.
    pub locks_waiting: f64,
    /// Age of the oldest open transaction, 0 when none.
    pub oldest_transaction_seconds: f64,
    /// On a standby: seconds since the last replayed transaction, 0 when everything received
    /// is replayed (so that an idle primary is not lag); `None` on a primary or before any transaction was replayed.
    pub recovery_lag_seconds: Option<f64>,
    /// Every database.
    pub databases: Vec<Database>,
    /// Replicas streaming from this node.
    pub replicas: Vec<Replica>,
}

/// One database of a node.
#[derive(Clone, Debug)]
pub struct Database {
    /// Its name.
    pub name: String,
    /// `pg_database_size`, `None` when the user may not connect to it.
    pub size_bytes: Option<f64>,
    /// `age(datfrozenxid)`: transactions since it was last frozen.
    pub xid_age: f64,
}

/// One row of `pg_stat_replication`.
#[derive(Clone, Debug)]
pub struct Replica {
    /// `application_name` (the standby's `cluster_name`, or `walreceiver`).
    pub application_name: String,
    /// The client's address, `local` for a Unix socket.
    pub client_addr: String,
    /// `streaming`, `catchup`, `startup`, `stopping`.
    pub state: String,
    /// WAL bytes between this node's position and the replica's replay; `None` when the user
    /// may not see it (no `pg_monitor`) or the replica has not reported yet.
    pub lag_bytes: Option<f64>,
    /// `replay_lag` in seconds, 0 when PostgreSQL shows none (caught up and idle).
    pub lag_seconds: f64,
}

impl Replica {
    /// The name it is reported under: its application name, or its address without one.
    pub fn name(&self) -> &str {
        if self.application_name.is_empty() {
            &self.client_addr
        } else {
            &self.application_name
        }
    }
}

/// Asks one node everything a report needs, in one pipelined round.
pub async fn facts(client: &Client, statements: &Statements) -> Result<Facts, Error> {
    let (node, databases, replicas) = futures::try_join!(
        client.query_one(&statements.node, &[]),
        client.query(&statements.databases, &[]),
        client.query(&statements.replicas, &[]),
    )?;
    let version: String = node.try_get(2)?;
    let count = |i: usize| node.try_get::<_, i64>(i).map(|v| v as f64);
    Ok(Facts {
        standby: node.try_get(0)?,
        version_num: count(1)?,
        version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        connections_max: count(3)?,
        connections: count(4)?,
        locks_waiting: count(5)?,
        oldest_transaction_seconds: node.try_get(6)?,
        recovery_lag_seconds: node.try_get(7)?,
        databases: databases
            .iter()
            .map(|row| {
                Ok(Database {
                    name: row.try_get(0)?,
                    size_bytes: row.try_get::<_, Option<i64>>(1)?.map(|v| v as f64),
                    xid_age: row.try_get::<_, i64>(2)? as f64,
                })
            })
            .collect::<Result<_, Error>>()?,
        replicas: replicas
            .iter()
            .map(|row| {
                Ok(Replica {
                    application_name: row.try_get(0)?,
                    client_addr: row.try_get(1)?,
                    state: row.try_get(2)?,
                    lag_bytes: row.try_get(3)?,
                    lag_seconds: row.try_get(4)?,
                })
            })
            .collect::<Result<_, Error>>()?,
    })
}

/// One session in `pg_stat_activity`.
#[derive(Clone, Debug)]
pub struct Activity {
    /// Backend process id.
    pub pid: i32,
    /// User.
    pub user: String,
    /// Database.
    pub database: String,
    /// `active`, `idle in transaction`, ...
    pub state: String,
    /// Seconds since its current (or last) statement started.
    pub duration_seconds: f64,
    /// The statement's text.
    pub query: String,
}

/// The `limit` longest-running statements of client sessions.
pub async fn activity(
    client: &Client,
    statements: &Statements,
    limit: i64,
) -> Result<Vec<Activity>, Error> {
    let rows = client.query(&statements.activity, &[&limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(Activity {
                pid: row.try_get(0)?,
                user: row.try_get(1)?,
                database: row.try_get(2)?,
                state: row.try_get(3)?,
                duration_seconds: row.try_get(4)?,
                query: row.try_get(5)?,
            })
        })
        .collect()
}
