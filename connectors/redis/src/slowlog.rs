//! The `slowlog` command: `SLOWLOG GET N` from every node that answers, as one text table,
//! newest entries first.

use crate::{conn::Pool, options::Endpoint, probe, topology};
use redis::Value;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Entries asked of each node when the command has no argument.
pub const DEFAULT_ENTRIES: u32 = 10;
/// The most entries the command asks of one node.
pub const MAX_ENTRIES: u32 = 1000;
/// Longest command text shown in a row.
const COMMAND_WIDTH: usize = 80;

/// One slow command.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `host:port` of the node that logged it.
    pub node: String,
    /// The entry's id on that node.
    pub id: i64,
    /// When it ran, in seconds since the epoch.
    pub time: i64,
    /// How long it ran, in microseconds.
    pub duration_us: i64,
    /// The command and its arguments, as the server recorded them.
    pub command: String,
    /// The client's `ip:port` (Redis 4.0 and later).
    pub client: String,
}

/// The number of entries from the command's arguments.
pub fn entries(args: &[String]) -> Result<u32, String> {
    match args {
        [] => Ok(DEFAULT_ENTRIES),
        [n] => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_ENTRIES).contains(n))
            .ok_or_else(|| {
                format!(
                    "slowlog takes the number of entries per node, 1 to {MAX_ENTRIES}; got '{n}'"
                )
            }),
        _ => Err(format!(
            "slowlog takes at most one argument, the number of entries per node; got {}",
            args.len()
        )),
    }
}

/// Runs the command on every node of the cluster and formats the table.
pub async fn run(
    pool: &Pool,
    endpoints: &[Endpoint],
    count: u32,
    deadline: Instant,
) -> Result<String, String> {
    let probes = probe::survey(pool, endpoints, deadline).await;
    let topology = topology::assemble(&probes)?;
    let targets: Vec<(String, u16)> = topology
        .nodes
        .iter()
        .filter(|n| n.answer().is_some())
        .filter_map(|n| {
            let (host, port) = match n.member {
                Some(m) => (m.host.clone(), m.port),
                None => {
                    let e = endpoints.iter().find(|e| e.address() == n.address)?;
                    (e.host.clone(), e.port)
                }
            };
            Some((host, port))
        })
        .collect();
    let asks = targets.iter().map(|(host, port)| async move {
        let mut cmd = redis::cmd("SLOWLOG");
        cmd.arg("GET").arg(count);
        let reply: Result<Value, String> = pool.query(host, *port, &cmd, deadline).await;
        (crate::options::address(host, *port), reply)
    });
    let replies = futures::future::join_all(asks).await;
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for (node, reply) in replies {
        match reply {
            Ok(value) => entries.extend(parse(&node, &value)),
            Err(e) => failures.push(format!("node {node}: {e}")),
        }
    }
    for node in topology.nodes.iter().filter(|n| n.answer().is_none()) {
        let why = node.failure().unwrap_or("no address known");
        failures.push(format!("{}: {why}", node.name()));
    }
    Ok(table(entries, targets.len(), &failures))
}

/// The entries of one `SLOWLOG GET` reply; malformed entries are skipped.
pub fn parse(node: &str, reply: &Value) -> Vec<Entry> {
    let Value::Array(items) = reply else {
        return vec![];
    };
    items.iter().filter_map(|item| entry(node, item)).collect()
}

fn entry(node: &str, item: &Value) -> Option<Entry> {
    let Value::Array(fields) = item else {
        return None;
    };
    let int = |i: usize| match fields.get(i) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    };
    let args: Vec<String> = match fields.get(3) {
        Some(Value::Array(args)) => args.iter().filter_map(text).collect(),
        _ => return None,
    };
    Some(Entry {
        node: node.to_string(),
        id: int(0)?,
        time: int(1)?,
        duration_us: int(2)?,
        command: args.join(" "),
        client: fields.get(4).and_then(text).unwrap_or_default(),
    })
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// The table: one row per entry, newest first, then the nodes that could not be asked.
pub fn table(mut entries: Vec<Entry>, nodes_asked: usize, failures: &[String]) -> String {
    entries.sort_by(|a, b| {
        (b.time.cmp(&a.time))
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| b.id.cmp(&a.id))
    });
    let mut rows = vec![[
        "node".to_string(),
        "id".into(),
        "time".into(),
        "duration_us".into(),
        "client".into(),
        "command".into(),
    ]];
    for e in &entries {
        let time = UNIX_EPOCH + Duration::from_secs(e.time.max(0) as u64);
        let mut command = e.command.replace(['\r', '\n'], " ");
        if command.chars().count() > COMMAND_WIDTH {
            command = command.chars().take(COMMAND_WIDTH - 1).collect::<String>() + "…";
        }
        rows.push([
            e.node.clone(),
            e.id.to_string(),
            humantime::format_rfc3339_seconds(time).to_string(),
            e.duration_us.to_string(),
            e.client.clone(),
            command,
        ]);
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    let mut out = dbmon_connector_api::text::table(&rows);
    let plural = if nodes_asked == 1 { "node" } else { "nodes" };
    out.push_str(&format!(
        "{} entries from {nodes_asked} {plural}\n",
        entries.len()
    ));
    for failure in failures {
        out.push_str(&format!("not asked: {failure}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn entries_are_parsed_and_sorted_newest_first() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(7),
                Value::Int(1_700_000_100),
                Value::Int(15_000),
                Value::Array(vec![bulk("KEYS"), bulk("*")]),
                bulk("127.0.0.1:50000"),
                bulk(""),
            ]),
            Value::Array(vec![Value::Int(6), Value::Int(1_700_000_000)]),
            Value::Array(vec![
                Value::Int(5),
                Value::Int(1_700_000_000),
                Value::Int(20_000),
                Value::Array(vec![bulk("DEBUG"), bulk("SLEEP"), bulk("0.02")]),
            ]),
        ]);
        let entries = parse("10.0.0.1:6379", &reply);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].command, "KEYS *");
        assert_eq!(entries[1].client, "");
        let out = table(entries, 1, &["node x:1 (master): not answering".into()]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("node "), "{out}");
        assert!(lines[1].contains("2023-11-14T22:15:00Z") && lines[1].ends_with("KEYS *"));
        assert!(lines[2].ends_with("DEBUG SLEEP 0.02"), "{out}");
        assert_eq!(lines[3], "2 entries from 1 node");
        assert_eq!(lines[4], "not asked: node x:1 (master): not answering");
    }

    #[test]
    fn the_argument_is_a_bounded_count() {
        assert_eq!(entries(&[]), Ok(DEFAULT_ENTRIES));
        assert_eq!(entries(&["25".into()]), Ok(25));
        for bad in ["0", "1001", "ten", "-1"] {
            assert!(entries(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(entries(&["1".into(), "2".into()]).is_err());
    }
}
