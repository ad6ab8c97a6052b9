//! What the connector asks each server, and its answers as text, before any figure is read
//! from them. No configured value is ever pasted into SQL: the statements are constants (the
//! lists of names below), and the one input, the `processlist` row limit, is a bound parameter.

use mysql_async::{Conn, Row, Value, prelude::Queryable};
use std::{collections::BTreeMap, time::Instant};

/// The status counters and gauges read, besides every `wsrep_%` one (Galera).
pub const STATUS: [&str; 12] = [
    "Uptime",
    "Threads_connected",
    "Threads_running",
    "Max_used_connections",
    "Questions",
    "Slow_queries",
    "Aborted_connects",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
    "Innodb_buffer_pool_pages_dirty",
    "Innodb_buffer_pool_pages_total",
    // MariaDB's count of connected replicas, which needs no privilege.
    "Slaves_connected",
];

/// The server variables read.
pub const VARIABLES: [&str; 4] = ["version", "max_connections", "wsrep_on", "gtid_slave_pos"];

/// `COUNT(*)` of the threads that send the binary log to a replica (`Binlog Dump`, `Binlog
/// Dump GTID`); other users' threads are visible with the PROCESS privilege.
const REPLICAS_CONNECTED: &str = "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                                  WHERE COMMAND LIKE 'Binlog Dump%'";

/// The columns of one row, by name, as text (`None` for NULL).
pub type Fields = BTreeMap<String, Option<String>>;

/// What one server said in one collection.
#[derive(Debug, Clone)]
pub struct Answer {
    /// [`VARIABLES`], those the server has.
    pub variables: BTreeMap<String, String>,
    /// [`STATUS`] and `wsrep_%`, those the server has.
    pub status: BTreeMap<String, String>,
    /// One row per replication channel (MariaDB: connection) of `SHOW ALL SLAVES STATUS`
    /// (MariaDB) or `SHOW REPLICA STATUS` (MySQL; `SHOW SLAVE STATUS` before 8.0.22).
    pub channels: Vec<Fields>,
    /// Why the replication status could not be read (a missing privilege), if it could not.
    pub replication_unreadable: Option<String>,
    /// Threads sending the binary log to replicas, as the process list shows them.
    pub replicas_connected: f64,
    /// When the status arrived: the time of the counters, for rates.
    pub at: Instant,
}

impl Default for Answer {
    fn default() -> Self {
        Answer {
            variables: BTreeMap::new(),
            status: BTreeMap::new(),
            channels: Vec::new(),
            replication_unreadable: None,
            replicas_connected: 0.0,
            at: Instant::now(),
        }
    }
}

impl Answer {
    /// Whether the server is MariaDB (its `version` says so), else MySQL or a fork of it.
    pub fn is_mariadb(&self) -> bool {
        self.variables
            .get("version")
            .is_some_and(|v| v.contains("MariaDB"))
    }
}

/// `SHOW GLOBAL ... WHERE Variable_name IN (...)` for a constant list of names.
fn show_where(what: &str, names: &[&str], also: &str) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!(
        "SHOW GLOBAL {what} WHERE Variable_name IN ({}){also}",
        list.join(", ")
    )
}

/// Asks one server everything a report needs.
pub async fn answer(conn: &mut Conn) -> Result<Answer, mysql_async::Error> {
    let variables = pairs(conn, &show_where("VARIABLES", &VARIABLES, "")).await?;
    let status_query = show_where("STATUS", &STATUS, " OR Variable_name LIKE 'wsrep\\_%'");
    let status = pairs(conn, &status_query).await?;
    let at = Instant::now();
    let mut answer = Answer {
        variables,
        status,
        at,
        ..Answer::default()
    };
    match replication(conn, answer.is_mariadb()).await {
        Ok(channels) => answer.channels = channels,
        Err(mysql_async::Error::Server(e)) => {
            answer.replication_unreadable = Some(format!("ERROR {}: {}", e.code, e.message));
        }
        Err(other) => return Err(other),
    }
    let connected: Option<u64> = conn.query_first(REPLICAS_CONNECTED).await?;
    answer.replicas_connected = connected.unwrap_or(0) as f64;
    Ok(answer)
}

/// MySQL's error for a statement it does not know (`SHOW REPLICA STATUS` before 8.0.22).
const ER_PARSE_ERROR: u16 = 1064;

/// Every replication channel's row. MariaDB lists all its connections with `SHOW ALL SLAVES
/// STATUS`; MySQL shows every channel in `SHOW REPLICA STATUS`, which it spells `SHOW SLAVE
/// STATUS` before 8.0.22 (and 8.4 knows only the new spelling).
async fn replication(conn: &mut Conn, mariadb: bool) -> Result<Vec<Fields>, mysql_async::Error> {
    if mariadb {
        return rows(conn, "SHOW ALL SLAVES STATUS").await;
    }
    match rows(conn, "SHOW REPLICA STATUS").await {
        Err(mysql_async::Error::Server(e)) if e.code == ER_PARSE_ERROR => {
            rows(conn, "SHOW SLAVE STATUS").await
        }
        other => other,
    }
}

/// The `(name, value)` rows of a `SHOW VARIABLES` or `SHOW STATUS`, NULL values left out.
async fn pairs(
    conn: &mut Conn,
    query: &str,
) -> Result<BTreeMap<String, String>, mysql_async::Error> {
    let rows: Vec<(String, Option<String>)> = conn.query(query).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_ascii_lowercase(), value?)))
        .collect())
}

/// Every row of `query`, each by column name.
pub async fn rows(conn: &mut Conn, query: &str) -> Result<Vec<Fields>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query(query).await?;
    Ok(rows.iter().map(fields).collect())
}

/// One row by column name.
pub fn fields(row: &Row) -> Fields {
    row.columns_ref()
        .iter()
        .enumerate()
        .map(|(i, column)| (column.name_str().into_owned(), row.as_ref(i).and_then(text)))
        .collect()
}

/// A value as the text protocol would send it; `None` for NULL.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(n) => Some(n.to_string()),
        Value::Double(n) => Some(n.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// The statement behind the `processlist` command: every thread but the connector's own, the
/// longest in its state first.
const PROCESSLIST: &str = "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO \
                           FROM information_schema.PROCESSLIST \
                           WHERE ID <> CONNECTION_ID() \
                           ORDER BY TIME DESC, ID \
                           LIMIT ?";

/// The threads of one server, at most `limit`, and how many there are in all.
pub async fn processlist(
    conn: &mut Conn,
    limit: u32,
) -> Result<(Vec<Fields>, u64), mysql_async::Error> {
    let rows: Vec<Row> = conn.exec(PROCESSLIST, (limit,)).await?;
    let total: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()",
        )
        .await?;
    Ok((rows.iter().map(fields).collect(), total.unwrap_or(0)))
}
