//! `/_status/vars` bodies in the two documented generations, written from a fake node's state:
//! `# HELP` / `# TYPE` per family, HELP text with an escaped `\n` and a raw tab, v19's
//! `34.0`-style numbers and missing final newline, v22's `node_id` label on every series.

use super::{Generation, Node, Store};
use std::fmt::Write;

/// A number as the node's generation prints it: Go's shortest `%g` (exponent from 1e6 up), and
/// in v19 a `.0` on integral values.
pub fn number(v: f64, generation: Generation) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let exp = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let text = if (-4..6).contains(&exp) {
        format!("{v}")
    } else {
        let sci = format!("{v:e}");
        let (mantissa, e) = sci.split_once('e').unwrap();
        let e: i32 = e.parse().unwrap();
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    };
    let plain_integer = !text.contains(['.', 'e']);
    if generation == Generation::V19 && plain_integer {
        format!("{text}.0")
    } else {
        text
    }
}

struct Body<'a> {
    out: String,
    node: &'a Node,
}

impl Body<'_> {
    fn v22(&self) -> bool {
        self.node.generation == Generation::V22
    }

    /// `{extra}` plus, in v22, the node label.
    fn labels(&self, extra: &str) -> String {
        let node = format!("node_id=\"{}\"", self.node.id);
        match (extra.is_empty(), self.v22()) {
            (true, false) => String::new(),
            (true, true) => format!("{{{node}}}"),
            (false, false) => format!("{{{extra}}}"),
            (false, true) => format!("{{{extra},{node}}}"),
        }
    }

    fn family(&mut self, name: &str, help: &str, kind: &str, series: &[(String, f64)]) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in series {
            let value = number(*value, self.node.generation);
            let _ = writeln!(self.out, "{name}{labels} {value}");
        }
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        let labels = self.labels("");
        self.family(name, help, "gauge", &[(labels, value)]);
    }

    fn per_store(&mut self, name: &str, help: &str, value: impl Fn(&Store) -> f64) {
        let series: Vec<(String, f64)> = self
            .node
            .stores
            .iter()
            .enumerate()
            .map(|(i, s)| (self.labels(&format!("store=\"{}\"", i + 1)), value(s)))
            .collect();
        self.family(name, help, "gauge", &series);
    }
}

/// The node's `/_status/vars`.
pub fn render(node: &Node) -> String {
    let mut b = Body {
        out: String::with_capacity(8192),
        node,
    };
    let tag = format!("tag=\"{}\",go_version=\"go1.19.10\"", node.version);
    b.family(
        "build_timestamp",
        "Build information",
        "gauge",
        &[(format!("{{{tag}}}"), 1.681737728e9)],
    );
    let addr = node.address();
    let http = addr.replace("26257", "8080");
    let addrs = format!("advertise_addr=\"{addr}\",http_addr=\"{http}\",sql_addr=\"{addr}\"");
    let id_labels = if b.v22() {
        format!("{{node_id=\"{}\",{addrs}}}", node.id)
    } else {
        format!("{{{addrs}}}")
    };
    let help = "node ID with labels for advertised RPC and HTTP addresses";
    b.family("node_id", help, "gauge", &[(id_labels, node.id as f64)]);
    // An escaped newline and a raw tab in HELP, as some versions write them.
    b.gauge(
        "sys_uptime",
        "Process uptime\\nin seconds\t(since start)",
        12224.0,
    );
    b.gauge("sys_rss", "Current process RSS", node.rss);
    if let Some(total) = node.sys_totalmem {
        b.gauge("sys_totalmem", "Total memory (both free and used)", total);
    }
    b.gauge(
        "sys_cpu_user_percent",
        "Current user cpu percentage",
        0.02004312840283465,
    );
    let live_help =
        "Number of live nodes in the cluster (will be 0 if this node is not itself live)";
    b.gauge("liveness_livenodes", live_help, node.live_nodes);
    b.gauge(
        "liveness_heartbeatsuccesses",
        "Number of successful node liveness heartbeats",
        2720.0,
    );
    b.per_store("ranges", "Number of ranges", |s| s.ranges);
    b.per_store(
        "ranges_unavailable",
        "Number of ranges with fewer live replicas than needed for quorum",
        |s| s.unavailable,
    );
    b.per_store(
        "ranges_underreplicated",
        "Number of ranges with fewer live replicas than the replication target",
        |s| s.underreplicated,
    );
    b.per_store(
        "ranges_overreplicated",
        "Number of ranges with more live replicas than the replication target",
        |s| s.overreplicated,
    );
    b.per_store("replicas", "Number of replicas", |s| s.replicas);
    b.per_store("replicas_leaders", "Number of raft leaders", |s| s.ranges);
    b.per_store("capacity", "Total storage capacity", |s| s.capacity);
    b.per_store("capacity_available", "Available storage capacity", |s| {
        s.available
    });
    b.per_store("capacity_used", "Used storage capacity", |s| s.used);
    let kinds = ["select", "insert", "update", "delete"];
    for (kind, count) in kinds.iter().zip(node.queries) {
        let help = format!(
            "Number of SQL {} statements successfully executed",
            kind.to_uppercase()
        );
        let labels = b.labels("");
        b.family(
            &format!("sql_{kind}_count"),
            &help,
            "counter",
            &[(labels.clone(), count)],
        );
        // Internal statements are not the clients' queries.
        let internal = format!("{help} (internal queries)");
        b.family(
            &format!("sql_{kind}_count_internal"),
            &internal,
            "counter",
            &[(labels, 999_999.0)],
        );
    }
    heartbeat(&mut b);
    b.gauge(
        "clock_offset_meannanos",
        "Mean clock offset with other nodes",
        node.clock_mean_ns,
    );
    b.gauge(
        "clock_offset_stddevnanos",
        "Stddev clock offset with other nodes",
        node.clock_stddev_ns,
    );
    let queues = [
        "replicate",
        "gc",
        "split",
        "merge",
        "raftlog",
        "consistency",
    ];
    for (queue, pending) in queues.iter().zip(&node.queue_pending) {
        let help = format!("Number of pending replicas in the {queue} queue");
        let labels = b.labels("store=\"1\"");
        b.family(
            &format!("queue_{queue}_pending"),
            &help,
            "gauge",
            &[(labels.clone(), *pending)],
        );
        let failures = format!("Number of replicas which failed processing in the {queue} queue");
        b.family(
            &format!("queue_{queue}_process_failure"),
            &failures,
            "counter",
            &[(labels, 3.0)],
        );
    }
    let mut body = b.out;
    if node.generation == Generation::V19 {
        body.pop(); // v19 ends without a newline
    }
    body
}

fn heartbeat(b: &mut Body) {
    let node = b.node;
    let name = "liveness_heartbeatlatency";
    let _ = writeln!(b.out, "# HELP {name} Node liveness heartbeat latency");
    let _ = writeln!(b.out, "# TYPE {name} histogram");
    let mut last = 0.0;
    let mut sum = 0.0;
    let mut below = 0.0;
    for &(le, count) in &node.heartbeat {
        let labels = b.labels(&format!("le=\"{}\"", number(le, Generation::V22)));
        let _ = writeln!(
            b.out,
            "{name}_bucket{labels} {}",
            number(count, node.generation)
        );
        sum += (count - below) * le;
        below = count;
        last = count;
    }
    let labels = b.labels("le=\"+Inf\"");
    let _ = writeln!(
        b.out,
        "{name}_bucket{labels} {}",
        number(last, node.generation)
    );
    let labels = b.labels("");
    let _ = writeln!(b.out, "{name}_sum{labels} {}", number(sum, node.generation));
    let _ = writeln!(
        b.out,
        "{name}_count{labels} {}",
        number(last, node.generation)
    );
}
