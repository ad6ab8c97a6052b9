//! `dbmon run CLUSTER nodes` and `queues`: what a collection reads, as tables.

use crate::gather::Gathered;
use crate::verdict::human_bytes;
use crate::view::View;
use dbmon_connector_api::text::table;

/// Every node: status, endpoint, memory, disk, alarms, partitions.
pub fn nodes(view: &View) -> String {
    let mut rows = vec![
        [
            "NODE",
            "STATUS",
            "ENDPOINT",
            "MEMORY",
            "DISK FREE",
            "ALARMS",
            "PARTITIONS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let of = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{} / {}", human_bytes(a), human_bytes(b)),
        _ => "-".into(),
    };
    for node in &view.nodes {
        let listed = node.listed;
        let alarms: Vec<&str> = listed
            .map(|n| {
                [(n.mem_alarm, "memory"), (n.disk_free_alarm, "disk")]
                    .into_iter()
                    .filter(|(on, _)| *on == Some(true))
                    .map(|(_, what)| what)
                    .collect()
            })
            .unwrap_or_default();
        let partitions = listed.map_or(String::new(), |n| n.partitions.join(","));
        rows.push(vec![
            node.id.clone(),
            node.status.as_str().to_string(),
            node.probe.map_or("-".into(), |p| p.url.clone()),
            of(
                listed.and_then(|n| n.mem_used),
                listed.and_then(|n| n.mem_limit),
            ),
            of(
                listed.and_then(|n| n.disk_free),
                listed.and_then(|n| n.disk_free_limit),
            ),
            dash(alarms.join(",")),
            dash(partitions),
        ]);
    }
    table(&rows)
}

/// The largest queues, as the collection reads them, and how many were left out.
pub fn queues(gathered: &Gathered) -> Result<String, String> {
    let page = gathered.queues.as_ref().map_err(Clone::clone)?;
    let mut rows = vec![
        [
            "VHOST",
            "QUEUE",
            "MESSAGES",
            "READY",
            "UNACKED",
            "CONSUMERS",
            "STATE",
            "NODE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let count = |v: Option<f64>| v.map_or("-".into(), |v| v.to_string());
    for q in &page.items {
        rows.push(vec![
            q.vhost.clone(),
            q.name.clone(),
            count(q.messages),
            count(q.messages_ready),
            count(q.messages_unacknowledged),
            count(q.consumers),
            dash(q.state.clone()),
            dash(q.node.clone()),
        ]);
    }
    let mut out = table(&rows);
    let left_out = page.total_count.saturating_sub(page.items.len() as u64);
    if left_out > 0 {
        out.push_str(&format!("({left_out} more queues not shown: max_queues)\n"));
    }
    Ok(out)
}

fn dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}
