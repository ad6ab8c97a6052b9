//! Deterministic CockroachDB-shaped bodies for benchmarks and tests.
//!
//! The layout follows what a CockroachDB node serves on `/_status/vars`: a
//! `# HELP` and `# TYPE` pair per family, node-level series labelled
//! `{node_id="N"}`, per-store series labelled `{store="S",node_id="N"}`, and
//! HDR-style histogram buckets. Values are printed the way Go's
//! `strconv.FormatFloat(v, 'g', -1, 64)` prints them, as the real exporter does.
//! Everything here is generated; no real scrape is embedded.

use std::fmt::Write;

mod names;

use names::*;

/// Stores on the simulated node; per-store families repeat once per store.
const STORES: u32 = 11;

/// SplitMix64: tiny, seedable and good enough for plausible numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A counter-like value: like real scrapes, mostly zero or small, some huge.
    fn count(&mut self) -> f64 {
        match self.below(10) {
            0..=3 => 0.0,
            4..=6 => self.below(1_000) as f64,
            7 | 8 => self.below(1_000_000) as f64,
            _ => self.below(1 << 44) as f64,
        }
    }

    /// A gauge-like value: zeros, small integers, fractions and large floats.
    fn gauge(&mut self) -> f64 {
        match self.below(10) {
            0..=3 => 0.0,
            4..=6 => self.below(500) as f64,
            7 | 8 => self.below(10_000) as f64 / 1e4,
            _ => self.below(1 << 40) as f64 * 1.25 + 0.5,
        }
    }
}

/// Formats like Go's `FormatFloat(v, 'g', -1, 64)`: shortest digits, with an
/// exponent of at least two digits once the decimal exponent is >= 6 or < -4.
fn go_float(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            format!("{v}")
        };
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` output has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if (-4..6).contains(&exp) {
        return format!("{v}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// Whether a family has one series per store or one per node.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Node,
    Store,
}

struct Family {
    name: String,
    help: String,
    kind: &'static str,
    scope: Scope,
}

fn fam(name: String, help: String, kind: &'static str, scope: Scope) -> Family {
    Family {
        name,
        help,
        kind,
        scope,
    }
}

fn families() -> Vec<Family> {
    use Scope::{Node, Store};
    let mut out = Vec::with_capacity(512);
    for s in SQL_STATEMENTS.split_whitespace() {
        let what = s.to_uppercase().replace('_', " ");
        for (suffix, verb) in [
            ("count", "successfully executed"),
            ("started_count", "started"),
        ] {
            let help = format!("Number of SQL {what} statements {verb}");
            out.push(fam(format!("sql_{s}_{suffix}"), help, "counter", Node));
        }
    }
    for job in JOB_TYPES.split_whitespace() {
        for (state, kind, desc) in JOB_STATES {
            let help = format!("Number of {job} jobs {desc}");
            out.push(fam(format!("jobs_{job}_{state}"), help, kind, Node));
        }
    }
    for m in RPC_METHODS.split_whitespace() {
        let help = format!("Number of {} requests processed", m.to_uppercase());
        out.push(fam(
            format!("distsender_rpc_{m}_sent"),
            help,
            "counter",
            Node,
        ));
    }
    for k in WORK_KINDS.split_whitespace() {
        for stat in ["requested", "admitted", "errored"] {
            let help = format!("Number of requests {stat} by admission control for {k}");
            out.push(fam(format!("admission_{stat}_{k}"), help, "counter", Node));
        }
    }
    for (list, kind) in [(NODE_GAUGES, "gauge"), (NODE_COUNTERS, "counter")] {
        for (name, help) in list {
            out.push(fam(name.to_string(), help.to_string(), kind, Node));
        }
    }
    for (list, kind, lead) in [
        (STORE_GAUGES, "gauge", "Current"),
        (STORE_COUNTERS, "counter", "Number of"),
    ] {
        for name in list.split_whitespace() {
            let help = format!("{lead} {}", name.replace('_', " "));
            out.push(fam(name.to_string(), help, kind, Store));
        }
    }
    for q in QUEUES.split_whitespace() {
        for (stat, kind, desc) in QUEUE_STATS {
            let help = format!("{desc} {q} queue");
            out.push(fam(format!("queue_{q}_{stat}"), help, kind, Store));
        }
    }
    for m in RAFT_MESSAGES.split_whitespace() {
        let help = format!("Number of {m} messages received");
        out.push(fam(format!("raft_rcvd_{m}"), help, "counter", Store));
    }
    for level in 0..7 {
        for (stat, help) in [
            ("bytes_ingested", "Bytes ingested into"),
            ("level_size", "Size of the SSTables in"),
        ] {
            let help = format!("{help} level {level}");
            out.push(fam(
                format!("storage_l{level}_{stat}"),
                help,
                "gauge",
                Store,
            ));
        }
    }
    // HELP text with an escaped newline, an escaped backslash and a raw tab, as
    // some CockroachDB versions emit for this family.
    out.push(fam(
        "distsender_rpc_err_errordetailtype_0_".into(),
        "Number of ErrorDetailType errors received\\nreplica-bound RPCs.\tSee also: \\\\docs"
            .into(),
        "counter",
        Node,
    ));
    out
}

fn series_labels(scope: Scope, node_id: u32) -> Vec<String> {
    match scope {
        Scope::Node => vec![format!("node_id=\"{node_id}\"")],
        Scope::Store => (1..=STORES)
            .map(|s| format!("store=\"{s}\",node_id=\"{node_id}\""))
            .collect(),
    }
}

fn write_histogram(out: &mut String, rng: &mut Rng, hist: (&str, bool, u32, u32), node_id: u32) {
    let (name, per_store, shift, buckets) = hist;
    let scope = if per_store { Scope::Store } else { Scope::Node };
    let _ = writeln!(
        out,
        "# HELP {name} Latency of {} in nanoseconds",
        name.replace('_', " ")
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    // Per-store histograms are shown for the first store only, to keep the body small.
    let labels = &series_labels(scope, node_id)[0];
    let (mut total, mut sum) = (0u64, 0f64);
    for i in 0..buckets {
        // HDR-style bounds: eight linear sub-buckets per power of two, minus one.
        let bound = ((8 + u64::from(i % 8)) << (shift + i / 8)) - 1;
        let peak = u64::from(buckets / 2).abs_diff(u64::from(i));
        let added = rng.below(4_000 / (1 + peak * peak));
        total += added;
        sum += added as f64 * bound as f64;
        let le = go_float(bound as f64);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {total}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", go_float(sum));
    let _ = writeln!(out, "{name}_count{{{labels}}} {total}");
}

/// Builds a `/_status/vars`-shaped body for node `node_id`, identical for
/// identical input: about 190 KB, 2,700 samples and 330 families, 12 of them
/// histograms (the node has 11 stores).
pub fn cockroach_like_vars(node_id: u32) -> String {
    let mut rng = Rng(0x5EED_0000 ^ u64::from(node_id));
    let mut out = String::with_capacity(192 * 1024);
    out.push_str("# HELP build_timestamp Build information\n# TYPE build_timestamp gauge\n");
    out.push_str("build_timestamp{tag=\"v23.1.11\",go_version=\"go1.19.10\"} 1.681737728e+09\n");
    let families = families();
    let mut histograms = HISTOGRAMS.iter();
    for (i, family) in families.iter().enumerate() {
        // Interleave histograms with plain families, as the real exporter's map order does.
        if i % 40 == 20
            && let Some(&h) = histograms.next()
        {
            write_histogram(&mut out, &mut rng, h, node_id);
        }
        let (name, kind) = (&family.name, family.kind);
        let _ = writeln!(out, "# HELP {name} {}", family.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for labels in series_labels(family.scope, node_id) {
            let v = if kind == "counter" {
                rng.count()
            } else {
                rng.gauge()
            };
            let _ = writeln!(out, "{name}{{{labels}}} {}", go_float(v));
        }
    }
    for &h in histograms {
        write_histogram(&mut out, &mut rng, h, node_id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_matches_go_formatting() {
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(2722.0), "2722");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1966079.0), "1.966079e+06");
        assert_eq!(go_float(1.681737728e9), "1.681737728e+09");
        assert_eq!(go_float(1e-5), "1e-05");
        assert_eq!(go_float(0.25), "0.25");
    }
}
