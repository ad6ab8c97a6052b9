//! One node's `/_status/vars` reduced to the figures the connector reports. The body is parsed
//! in place by the shared borrowing parser; only the few strings kept (address, version) are
//! copied. Both generations are read alike: v19-style series carry only a `store` label, v22 and
//! later add `node_id="N"` to every series; per-store series are summed.

use dbmon_promtext::Parser;
use std::fmt;

/// What a node's `/_status/vars` says.
#[derive(Debug, Default, Clone)]
pub struct NodeVars {
    /// The node's id: the value of the `node_id` series, else a `node_id` label.
    pub node_id: Option<u64>,
    /// `advertise_addr` of the `node_id` series: the node's RPC address.
    pub advertise_addr: Option<String>,
    /// `tag` of `build_timestamp`: the CockroachDB version.
    pub version: Option<String>,
    /// Per-store gauges, summed over the node's stores.
    pub ranges: f64,
    /// `ranges_unavailable`, summed.
    pub ranges_unavailable: f64,
    /// `ranges_underreplicated`, summed.
    pub ranges_underreplicated: f64,
    /// `ranges_overreplicated`, summed.
    pub ranges_overreplicated: f64,
    /// `replicas`, summed.
    pub replicas: f64,
    /// `capacity` (bytes), summed.
    pub capacity: f64,
    /// `capacity_available` (bytes), summed.
    pub capacity_available: f64,
    /// `capacity_used` (bytes), summed.
    pub capacity_used: f64,
    /// `sys_rss` (bytes).
    pub rss: Option<f64>,
    /// `sys_totalmem` (bytes), in versions that have it.
    pub total_memory: Option<f64>,
    /// `sql_{select,insert,update,delete}_count`, summed (a counter).
    pub sql_queries: Option<f64>,
    /// `liveness_heartbeatlatency_bucket` as (upper bound in ns, cumulative count), sorted.
    pub heartbeat_buckets: Vec<(f64, f64)>,
    /// `clock_offset_meannanos`.
    pub clock_offset_mean_ns: Option<f64>,
    /// `clock_offset_stddevnanos`.
    pub clock_offset_stddev_ns: Option<f64>,
    /// `liveness_livenodes`: live nodes as this node sees them.
    pub live_nodes: Option<f64>,
    /// `sys_uptime` (seconds).
    pub uptime_seconds: Option<f64>,
    /// Sum of the `queue_*_pending` gauges, when there are any.
    pub queue_pending: Option<f64>,
    /// Sample lines seen (most are passed over at their names).
    pub samples: usize,
    /// Lines that did not parse: sample lines of the families read, and lines that are not
    /// Prometheus text at all.
    pub bad_lines: usize,
    /// The first of them.
    pub first_error: Option<String>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum VarsError {
    /// Not one line of the body is Prometheus text.
    NotPrometheus(String),
    /// Prometheus text without any of CockroachDB's own series.
    NotCockroach,
}

impl fmt::Display for VarsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarsError::NotPrometheus(first) => {
                write!(
                    f,
                    "not a CockroachDB /_status/vars endpoint: not Prometheus text ({first})"
                )
            }
            VarsError::NotCockroach => write!(
                f,
                "not a CockroachDB /_status/vars endpoint: no sys_uptime, build_timestamp, \
                 liveness_* or ranges series"
            ),
        }
    }
}

fn add(slot: &mut Option<f64>, value: f64) {
    *slot = Some(slot.unwrap_or(0.0) + value);
}

/// Whether the connector reads the family `name`: [`parse`] uses ~25 of the ~330 families a
/// node exposes, and the others are passed over at their names, which makes the parse several
/// times cheaper (BENCHMARKS.md §1.2). Every name `parse` matches on must be here.
fn read(name: &str) -> bool {
    match name {
        "node_id"
        | "build_timestamp"
        | "sys_uptime"
        | "ranges"
        | "ranges_unavailable"
        | "ranges_underreplicated"
        | "ranges_overreplicated"
        | "replicas"
        | "capacity"
        | "capacity_available"
        | "capacity_used"
        | "sys_rss"
        | "sys_totalmem"
        | "sql_select_count"
        | "sql_insert_count"
        | "sql_update_count"
        | "sql_delete_count"
        | "clock_offset_meannanos"
        | "clock_offset_stddevnanos" => true,
        name => {
            name.starts_with("liveness_")
                || (name.starts_with("queue_") && name.ends_with("_pending"))
        }
    }
}

/// Reads a `/_status/vars` body. Bad lines are skipped and counted; a body with no CockroachDB
/// series at all is refused.
pub fn parse(body: &str) -> Result<NodeVars, VarsError> {
    parse_with(body, read)
}

fn parse_with(body: &str, family_wanted: impl Fn(&str) -> bool) -> Result<NodeVars, VarsError> {
    let mut vars = NodeVars::default();
    let mut cockroach = false;
    let mut label_id: Option<u64> = None;
    let mut seen = 0;
    let wanted = |name: &str| {
        seen += 1;
        family_wanted(name)
    };
    for sample in Parser::new(body).samples_where(wanted) {
        let sample = match sample {
            Ok(sample) => sample,
            Err(e) => {
                vars.bad_lines += 1;
                vars.first_error.get_or_insert_with(|| e.to_string());
                continue;
            }
        };
        let v = sample.value;
        if label_id.is_none() && vars.node_id.is_none() {
            label_id = sample.label("node_id").and_then(|id| id.parse().ok());
        }
        match sample.name {
            "node_id" => {
                if v.is_finite() && v >= 1.0 {
                    vars.node_id = Some(v as u64);
                }
                vars.advertise_addr = sample.label("advertise_addr").map(|a| a.into_owned());
            }
            "build_timestamp" => {
                cockroach = true;
                vars.version = sample.label("tag").map(|t| t.into_owned());
            }
            "sys_uptime" => {
                cockroach = true;
                vars.uptime_seconds = Some(v);
            }
            "ranges" => {
                cockroach = true;
                vars.ranges += v;
            }
            "ranges_unavailable" => vars.ranges_unavailable += v,
            "ranges_underreplicated" => vars.ranges_underreplicated += v,
            "ranges_overreplicated" => vars.ranges_overreplicated += v,
            "replicas" => vars.replicas += v,
            "capacity" => vars.capacity += v,
            "capacity_available" => vars.capacity_available += v,
            "capacity_used" => vars.capacity_used += v,
            "sys_rss" => add(&mut vars.rss, v),
            "sys_totalmem" => vars.total_memory = Some(v),
            "sql_select_count" | "sql_insert_count" | "sql_update_count" | "sql_delete_count" => {
                add(&mut vars.sql_queries, v)
            }
            "liveness_heartbeatlatency_bucket" => {
                cockroach = true;
                if let Some(le) = sample.label("le").and_then(|le| parse_bound(&le)) {
                    vars.heartbeat_buckets.push((le, v));
                }
            }
            "clock_offset_meannanos" => vars.clock_offset_mean_ns = Some(v),
            "clock_offset_stddevnanos" => vars.clock_offset_stddev_ns = Some(v),
            "liveness_livenodes" => {
                cockroach = true;
                vars.live_nodes = Some(v);
            }
            name if name.starts_with("liveness_") => cockroach = true,
            name if name.starts_with("queue_") && name.ends_with("_pending") => {
                add(&mut vars.queue_pending, v)
            }
            _ => {}
        }
    }
    vars.samples = seen;
    if vars.samples == 0 && vars.bad_lines > 0 {
        return Err(VarsError::NotPrometheus(
            vars.first_error.take().unwrap_or_default(),
        ));
    }
    if !cockroach {
        return Err(VarsError::NotCockroach);
    }
    if vars.node_id.is_none() {
        vars.node_id = label_id;
    }
    vars.heartbeat_buckets = merge_buckets(std::mem::take(&mut vars.heartbeat_buckets));
    Ok(vars)
}

fn parse_bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => le.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// Sorts buckets by bound and adds up buckets of equal bound (one per store, if a version
/// ever labels them so).
fn merge_buckets(mut buckets: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += count,
            _ => merged.push((le, count)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v19_and_v22_series_read_alike() {
        let v19 = "node_id{advertise_addr=\"roach1:26257\",http_addr=\"roach1:8080\"} 1.0\n\
                   ranges{store=\"1\"} 34.0\nranges{store=\"2\"} 6.0\nsys_uptime 12.0";
        let v22 = "node_id{node_id=\"1\",advertise_addr=\"roach1:26257\"} 1\n\
                   ranges{store=\"1\",node_id=\"1\"} 34\nranges{store=\"2\",node_id=\"1\"} 6\n";
        for body in [v19, v22] {
            let vars = parse(body).unwrap();
            assert_eq!(vars.node_id, Some(1));
            assert_eq!(vars.advertise_addr.as_deref(), Some("roach1:26257"));
            assert_eq!(vars.ranges, 40.0);
        }
    }

    #[test]
    fn node_id_label_stands_in_for_the_series() {
        let vars = parse("sys_uptime{node_id=\"7\"} 3\n").unwrap();
        assert_eq!(vars.node_id, Some(7));
    }

    #[test]
    fn foreign_and_garbage_bodies_are_refused() {
        assert_eq!(
            parse("up 1\nfoo_bar 2\n").unwrap_err(),
            VarsError::NotCockroach
        );
        assert_eq!(parse("").unwrap_err(), VarsError::NotCockroach);
        let err = parse("<html><body>login</body></html>").unwrap_err();
        assert!(matches!(err, VarsError::NotPrometheus(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("not a CockroachDB /_status/vars endpoint")
        );
    }

    /// `read` must name every family `parse` matches on: on bodies of both generations,
    /// reading every family gives the same figures.
    #[test]
    fn passing_families_over_changes_nothing_read() {
        for node in [1, 2, 7] {
            let body = dbmon_promtext::synthetic::cockroach_like_vars(node);
            let fast = parse(&body).unwrap();
            assert!(fast.samples > 2_000, "{}", fast.samples);
            assert_eq!(fast.bad_lines, 0);
            assert!(fast.queue_pending.is_some() && fast.sql_queries.is_some());
            let slow = parse_with(&body, |_| true).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        }
    }

    #[test]
    fn buckets_are_sorted_and_merged() {
        let merged = merge_buckets(vec![(2.0, 1.0), (1.0, 1.0), (2.0, 3.0)]);
        assert_eq!(merged, vec![(1.0, 1.0), (2.0, 4.0)]);
    }
}
