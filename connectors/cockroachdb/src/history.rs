//! What the previous collection saw of each endpoint: the counters that rates are computed from
//! (SQL queries, heartbeat latency buckets), and the node's id and address, so that a node that
//! stops answering is still named by who it was.

use std::{collections::HashMap, time::Instant};

/// Figures derived from two collections of one node.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Rates {
    /// SQL statements per second since the previous collection; `None` on the first.
    pub sql_qps: Option<f64>,
    /// 99th percentile of the heartbeats since the previous collection (all heartbeats since
    /// the node started on the first), in ns; `None` when there were none.
    pub heartbeat_p99_ns: Option<f64>,
}

/// Who answered at an endpoint last time.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Its node id.
    pub node_id: Option<u64>,
    /// Its address.
    pub address: Option<String>,
}

#[derive(Debug, Default)]
struct Seen {
    at: Option<Instant>,
    queries: Option<f64>,
    buckets: Vec<(f64, f64)>,
    known: Known,
}

/// Per-endpoint memory of one cluster, keyed by endpoint URL.
#[derive(Debug, Default)]
pub struct History {
    endpoints: HashMap<String, Seen>,
}

impl History {
    /// Records this collection's counters of `endpoint` and returns the rates since the last.
    pub fn update(
        &mut self,
        endpoint: &str,
        at: Instant,
        queries: Option<f64>,
        buckets: &[(f64, f64)],
        known: Known,
    ) -> Rates {
        let seen = self.endpoints.entry(endpoint.to_string()).or_default();
        let sql_qps = match (seen.at, seen.queries, queries) {
            (Some(before), Some(then), Some(now)) => {
                let seconds = at.saturating_duration_since(before).as_secs_f64();
                // A counter that went down was reset by a restart: it counts from zero.
                let delta = if now >= then { now - then } else { now };
                (seconds > 0.0).then(|| delta / seconds)
            }
            _ => None,
        };
        let window = delta_buckets(&seen.buckets, buckets);
        let heartbeat_p99_ns = quantile(&window, 0.99);
        // Without a heartbeat since the baseline, it stays: the next window is longer.
        if heartbeat_p99_ns.is_some() || seen.buckets.is_empty() {
            seen.buckets = buckets.to_vec();
        }
        seen.at = Some(at);
        seen.queries = queries;
        seen.known = known;
        Rates {
            sql_qps,
            heartbeat_p99_ns,
        }
    }

    /// Who answered at `endpoint` last time, if anyone did.
    pub fn known(&self, endpoint: &str) -> Known {
        self.endpoints
            .get(endpoint)
            .map(|s| s.known.clone())
            .unwrap_or_default()
    }
}

/// Observations between `before` and `now` (cumulative buckets). The whole of `now` when there
/// is no usable baseline: the first collection, another bucket layout, or a counter reset.
fn delta_buckets(before: &[(f64, f64)], now: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let same_layout = before.len() == now.len() && before.iter().zip(now).all(|(b, n)| b.0 == n.0);
    if !same_layout || before.iter().zip(now).any(|(b, n)| n.1 < b.1) {
        return now.to_vec();
    }
    before
        .iter()
        .zip(now)
        .map(|(b, n)| (n.0, n.1 - b.1))
        .collect()
}

/// The `q` quantile of cumulative buckets sorted by bound, interpolated linearly inside the
/// bucket as Prometheus's `histogram_quantile` does; `None` without observations. A rank that
/// falls in the `+Inf` bucket gives the largest finite bound.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = 0.0;
    let mut below = 0.0;
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            if count == below {
                return Some(le);
            }
            return Some(lower + (le - lower) * (rank - below) / (count - below));
        }
        lower = le;
        below = count;
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        // 100 observations: 50 up to 10, 40 up to 20, 10 up to 40.
        let b = [
            (10.0, 50.0),
            (20.0, 90.0),
            (40.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert!(close(quantile(&b, 0.5), 10.0));
        assert!(close(quantile(&b, 0.99), 38.0));
        assert_eq!(quantile(&[(10.0, 0.0), (f64::INFINITY, 0.0)], 0.99), None);
        assert_eq!(
            quantile(&[(10.0, 1.0), (f64::INFINITY, 5.0)], 0.99),
            Some(10.0)
        );
    }

    #[test]
    fn rates_need_two_collections_and_survive_a_reset() {
        let mut h = History::default();
        let t0 = Instant::now();
        let first = h.update("a", t0, Some(100.0), &[], Known::default());
        assert_eq!(first.sql_qps, None);
        let second = h.update(
            "a",
            t0 + Duration::from_secs(2),
            Some(150.0),
            &[],
            Known::default(),
        );
        assert_eq!(second.sql_qps, Some(25.0));
        let reset = h.update(
            "a",
            t0 + Duration::from_secs(4),
            Some(10.0),
            &[],
            Known::default(),
        );
        assert_eq!(reset.sql_qps, Some(5.0));
    }

    #[test]
    fn heartbeat_window_waits_for_new_heartbeats() {
        let mut h = History::default();
        let t = Instant::now();
        let b1 = [(1e6, 10.0), (2e6, 10.0), (f64::INFINITY, 10.0)];
        let first = h.update("a", t, None, &b1, Known::default());
        assert!(close(first.heartbeat_p99_ns, 0.99e6));
        assert_eq!(
            h.update("a", t, None, &b1, Known::default())
                .heartbeat_p99_ns,
            None
        );
        let b2 = [(1e6, 10.0), (2e6, 20.0), (f64::INFINITY, 20.0)];
        let p99 = h
            .update("a", t, None, &b2, Known::default())
            .heartbeat_p99_ns;
        assert!(close(p99, 1.99e6), "{p99:?}");
    }
}
