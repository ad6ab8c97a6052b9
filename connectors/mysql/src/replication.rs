//! A replica's channels from its replication status, in either spelling: MariaDB's and MySQL's
//! before 8.0.22 (`Slave_IO_Running`, `Seconds_Behind_Master`, `Master_Host`) and MySQL's since
//! (`Replica_IO_Running`, `Seconds_Behind_Source`, `Source_Host`); and how many transactions a
//! replica has received but not applied, from MariaDB's GTID positions or MySQL's GTID sets.

use crate::probe::Fields;
use std::collections::BTreeMap;

/// One replication channel of a replica (a MariaDB connection, a MySQL channel).
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// `Connection_name` (MariaDB) or `Channel_Name` (MySQL); empty for the default one.
    pub name: String,
    /// The source it replicates from, `host:port`.
    pub source: String,
    /// The I/O (receiver) thread: `Yes`, `No`, `Connecting` (MariaDB also `Preparing`).
    pub io_running: String,
    /// The SQL (applier) thread: `Yes` or `No`.
    pub sql_running: String,
    /// `Seconds_Behind_Master`/`Seconds_Behind_Source`; `None` when the server shows NULL
    /// (a thread stopped, or the I/O thread not connected).
    pub seconds_behind: Option<f64>,
    /// The I/O thread's last error, empty when none.
    pub last_io_error: String,
    /// The SQL thread's last error, empty when none.
    pub last_sql_error: String,
    /// Transactions received from the source but not applied yet, when the channel uses GTIDs.
    pub gtid_gap: Option<f64>,
}

impl Channel {
    /// Whether the I/O thread runs (is connected to its source).
    pub fn io_ok(&self) -> bool {
        self.io_running.eq_ignore_ascii_case("yes")
    }

    /// Whether the SQL thread runs.
    pub fn sql_ok(&self) -> bool {
        self.sql_running.eq_ignore_ascii_case("yes")
    }

    /// How the channel is named in reasons: `channel 'x'`, or nothing for the default one.
    pub fn described(&self) -> String {
        match self.name.is_empty() {
            true => String::new(),
            false => format!(" channel '{}'", self.name),
        }
    }
}

/// The first of `names` the row has a value for, as text.
fn pick<'a>(row: &'a Fields, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| row.get(*n).and_then(|v| v.as_deref()))
}

/// One row of the replication status. `gtid_slave_pos` is the server's variable of that
/// name (MariaDB), for a row that has no `Gtid_Slave_Pos` column.
pub fn channel(row: &Fields, gtid_slave_pos: Option<&str>) -> Channel {
    let text = |names: &[&str]| pick(row, names).unwrap_or_default().trim().to_string();
    let host = text(&["Source_Host", "Master_Host"]);
    let port = text(&["Source_Port", "Master_Port"]);
    let source = match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    };
    let with_errno = |errno: &[&str], error: &[&str]| {
        let message = text(error);
        match text(errno).as_str() {
            "" | "0" => message,
            _ if message.is_empty() => String::new(),
            code => format!("error {code}: {message}"),
        }
    };
    Channel {
        name: text(&["Connection_name", "Channel_Name", "Channel_name"]),
        source,
        io_running: text(&["Replica_IO_Running", "Slave_IO_Running"]),
        sql_running: text(&["Replica_SQL_Running", "Slave_SQL_Running"]),
        seconds_behind: pick(row, &["Seconds_Behind_Source", "Seconds_Behind_Master"])
            .and_then(|s| s.trim().parse().ok()),
        last_io_error: with_errno(&["Last_IO_Errno"], &["Last_IO_Error"]),
        last_sql_error: with_errno(&["Last_SQL_Errno"], &["Last_SQL_Error"]),
        gtid_gap: gtid_gap(row, gtid_slave_pos),
    }
}

/// Received but not applied transactions: on MariaDB (`Using_Gtid` not `No`), `Gtid_IO_Pos`
/// ahead of `Gtid_Slave_Pos`; on MySQL, `Retrieved_Gtid_Set` less `Executed_Gtid_Set`.
fn gtid_gap(row: &Fields, gtid_slave_pos: Option<&str>) -> Option<f64> {
    if let Some(using) = pick(row, &["Using_Gtid"]) {
        if using.eq_ignore_ascii_case("no") {
            return None;
        }
        let received = pick(row, &["Gtid_IO_Pos"])?;
        let applied = pick(row, &["Gtid_Slave_Pos"]).or(gtid_slave_pos)?;
        return Some(mariadb_gap(received, applied) as f64);
    }
    let retrieved = pick(row, &["Retrieved_Gtid_Set"])?;
    let executed = pick(row, &["Executed_Gtid_Set"]).unwrap_or_default();
    Some(mysql_gap(retrieved, executed) as f64)
}

/// MariaDB positions, `domain-server-sequence` per replication domain, comma separated
/// (`0-1-42,1-2-7`): for each domain, how far the received sequence number is ahead of the
/// applied one (a domain not applied yet counts from 0).
pub fn mariadb_gap(received: &str, applied: &str) -> u64 {
    let applied = mariadb_position(applied);
    mariadb_position(received)
        .iter()
        .map(|(domain, seq)| seq.saturating_sub(applied.get(domain).copied().unwrap_or(0)))
        .sum()
}

/// Domain id to sequence number; parts that do not parse are left out.
fn mariadb_position(text: &str) -> BTreeMap<u64, u64> {
    text.split(',')
        .filter_map(|gtid| {
            let mut parts = gtid.trim().split('-');
            let domain = parts.next()?.parse().ok()?;
            let _server: u64 = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            Some((domain, seq))
        })
        .collect()
}

/// A MySQL GTID set (`uuid:1-5:7,uuid2:1-3`, since 8.3 with tags: `uuid:tag:1-5`): the
/// transactions in `retrieved` that are not in `executed`.
pub fn mysql_gap(retrieved: &str, executed: &str) -> u64 {
    let executed = gtid_set(executed);
    gtid_set(retrieved)
        .iter()
        .map(|(key, intervals)| {
            let total: u64 = intervals.iter().map(|(a, b)| b - a + 1).sum();
            let done = executed
                .get(key)
                .map_or(0, |other| overlap(intervals, other));
            total - done
        })
        .sum()
}

/// Source (`uuid`, or `uuid:tag`) to its merged, sorted, inclusive intervals.
fn gtid_set(text: &str) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut set: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for member in text.split(',') {
        let mut parts = member.trim().split(':');
        let Some(uuid) = parts.next().map(|u| u.trim().to_ascii_lowercase()) else {
            continue;
        };
        if uuid.is_empty() {
            continue;
        }
        let mut key = uuid.clone();
        for part in parts {
            let part = part.trim();
            let interval = match part.split_once('-') {
                Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
                None => part.parse().ok().map(|n| (n, n)),
            };
            match interval {
                Some((a, b)) if a <= b => set.entry(key.clone()).or_default().push((a, b)),
                Some(_) => {}
                // Not a number: a tag, naming the intervals after it.
                None => key = format!("{uuid}:{}", part.to_ascii_lowercase()),
            }
        }
    }
    for intervals in set.values_mut() {
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(a, b) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *intervals = merged;
    }
    set
}

/// How many numbers two merged, sorted interval lists share.
fn overlap(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let low = a[i].0.max(b[j].0);
        let high = a[i].1.min(b[j].1);
        if low <= high {
            shared += high - low + 1;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Option<&str>)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    }

    #[test]
    fn mariadb_rows_read_the_slave_spelling() {
        let r = row(&[
            ("Connection_name", Some("")),
            ("Master_Host", Some("10.0.0.1")),
            ("Master_Port", Some("3306")),
            ("Slave_IO_Running", Some("Connecting")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", None),
            ("Last_IO_Errno", Some("2003")),
            ("Last_IO_Error", Some("error reconnecting to master")),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
            ("Using_Gtid", Some("Slave_Pos")),
            ("Gtid_IO_Pos", Some("0-1-5")),
            ("Gtid_Slave_Pos", Some("0-1-2")),
        ]);
        let c = channel(&r, None);
        assert_eq!(c.source, "10.0.0.1:3306");
        assert!(!c.io_ok() && c.sql_ok());
        assert_eq!(c.seconds_behind, None);
        assert_eq!(c.last_io_error, "error 2003: error reconnecting to master");
        assert_eq!(c.last_sql_error, "");
        assert_eq!(c.gtid_gap, Some(3.0));
        assert_eq!(c.described(), "");
    }

    #[test]
    fn mysql_rows_read_the_replica_spelling() {
        let r = row(&[
            ("Channel_Name", Some("east")),
            ("Source_Host", Some("::1")),
            ("Source_Port", Some("3307")),
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("No")),
            ("Seconds_Behind_Source", Some("12")),
            ("Last_SQL_Errno", Some("1062")),
            (
                "Last_SQL_Error",
                Some("Duplicate entry '1' for key 'PRIMARY'"),
            ),
            (
                "Retrieved_Gtid_Set",
                Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10"),
            ),
            (
                "Executed_Gtid_Set",
                Some("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-7,\nother:1-3"),
            ),
        ]);
        let c = channel(&r, None);
        assert_eq!(c.name, "east");
        assert_eq!(c.described(), " channel 'east'");
        assert_eq!(c.source, "[::1]:3307");
        assert!(c.io_ok() && !c.sql_ok());
        assert_eq!(c.seconds_behind, Some(12.0));
        assert_eq!(
            c.last_sql_error,
            "error 1062: Duplicate entry '1' for key 'PRIMARY'"
        );
        assert_eq!(c.gtid_gap, Some(3.0));
    }

    #[test]
    fn no_gtid_no_gap() {
        let r = row(&[("Using_Gtid", Some("No")), ("Gtid_IO_Pos", Some(""))]);
        assert_eq!(channel(&r, None).gtid_gap, None);
        assert_eq!(channel(&row(&[]), None).gtid_gap, None);
        // An older MariaDB without the Gtid_Slave_Pos column: the server variable.
        let r = row(&[
            ("Using_Gtid", Some("Current_Pos")),
            ("Gtid_IO_Pos", Some("0-1-9")),
        ]);
        assert_eq!(channel(&r, Some("0-1-9")).gtid_gap, Some(0.0));
    }

    #[test]
    fn mariadb_gaps_per_domain() {
        assert_eq!(mariadb_gap("0-1-42", "0-1-42"), 0);
        assert_eq!(mariadb_gap("0-1-42,1-2-7", "0-1-40, 1-3-7"), 2);
        assert_eq!(mariadb_gap("0-1-42,5-2-3", "0-1-42"), 3);
        assert_eq!(mariadb_gap("0-1-4", "0-1-9"), 0);
        assert_eq!(mariadb_gap("", ""), 0);
    }

    #[test]
    fn mysql_gaps_count_what_is_not_executed() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        assert_eq!(mysql_gap(&format!("{u}:1-10"), &format!("{u}:1-10")), 0);
        assert_eq!(mysql_gap(&format!("{u}:1-10"), &format!("{u}:1-3:5-6")), 5);
        assert_eq!(mysql_gap(&format!("{u}:1-10:12"), ""), 11);
        assert_eq!(mysql_gap(&format!("{u}:1-5:3-8"), &format!("{u}:1-2")), 6);
        // Tagged GTIDs (8.3): a tag names the intervals after it.
        let set = format!("{u}:1-5:blue:1-3");
        assert_eq!(mysql_gap(&set, &format!("{u}:1-5")), 3);
        assert_eq!(mysql_gap(&set, &format!("{u}:1-5:blue:1-3")), 0);
        assert_eq!(mysql_gap("", ""), 0);
    }
}
