//! Rates from the servers' counters between collections: each node's previous sample, kept in
//! the instance, and what the next one makes of it. A server that restarted (its uptime went
//! down, or a counter did) starts again: its rates are missing once, never wrong.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Instant,
};

/// How far behind the time between two samples a server's uptime may grow before it counts
/// as restarted: two readings of a whole-second counter differ from the time between them by
/// less than a second each way.
const UPTIME_SLACK_SECONDS: f64 = 2.0;

/// The counters of one node at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the answer arrived.
    pub at: Instant,
    /// `Uptime`.
    pub uptime_seconds: Option<f64>,
    /// `Questions`.
    pub questions: Option<f64>,
    /// `Innodb_buffer_pool_read_requests`: logical page reads.
    pub read_requests: Option<f64>,
    /// `Innodb_buffer_pool_reads`: page reads that went to disk.
    pub reads: Option<f64>,
}

/// What a sample says next to the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Since {
    /// `Questions` per second.
    pub queries_per_second: Option<f64>,
    /// Of the buffer pool's page requests in between, the percentage served from memory;
    /// `None` when none was requested.
    pub hit_percent: Option<f64>,
    /// Whether there was a sample of the same server run to compare with: `false` on the
    /// first collection, after a restart, and when no time passed.
    pub compared: bool,
}

/// The previous sample of every node.
#[derive(Debug, Default)]
pub struct Samples {
    previous: Mutex<HashMap<String, Sample>>,
}

impl Samples {
    /// Keeps `now` as node `key`'s sample, and compares it with the one before.
    pub fn update(&self, key: &str, now: Sample) -> Since {
        // Taken and released here: never held across an `.await`.
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(before) = previous.insert(key.to_string(), now) else {
            return Since::default();
        };
        let seconds = match now.at.checked_duration_since(before.at) {
            Some(d) if !d.is_zero() => d.as_secs_f64(),
            _ => return Since::default(),
        };
        // Uptime counts whole seconds: it grows by the time in between, give or take one. Much
        // less is a restart, even one whose counters have grown past the old ones again.
        if let (Some(a), Some(b)) = (before.uptime_seconds, now.uptime_seconds)
            && b < a + seconds - UPTIME_SLACK_SECONDS
        {
            return Since::default();
        }
        let increase = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        let requests = increase(before.read_requests, now.read_requests).filter(|r| *r > 0.0);
        let reads = increase(before.reads, now.reads);
        Since {
            queries_per_second: increase(before.questions, now.questions).map(|q| q / seconds),
            hit_percent: requests.zip(reads).map(|(r, d)| hit_percent(r, d)),
            compared: true,
        }
    }
}

/// The share of `requests` page requests not among the `reads` from disk, in percent.
pub fn hit_percent(requests: f64, reads: f64) -> f64 {
    (100.0 * (1.0 - reads / requests)).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(at: Instant, uptime: f64, questions: f64, requests: f64, reads: f64) -> Sample {
        Sample {
            at,
            uptime_seconds: Some(uptime),
            questions: Some(questions),
            read_requests: Some(requests),
            reads: Some(reads),
        }
    }

    #[test]
    fn rates_between_samples() {
        let samples = Samples::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(
            samples.update("a", sample(t0, 100.0, 1000.0, 500.0, 10.0)),
            Since::default()
        );
        let since = samples.update("a", sample(t1, 102.0, 1100.0, 600.0, 15.0));
        assert_eq!(since.queries_per_second, Some(50.0));
        assert_eq!(since.hit_percent, Some(95.0));
        assert!(since.compared);
        // Another node has its own.
        assert_eq!(
            samples.update("b", sample(t1, 5.0, 1.0, 1.0, 1.0)),
            Since::default()
        );
    }

    #[test]
    fn a_restart_or_no_time_gives_no_rate() {
        let samples = Samples::default();
        let t0 = Instant::now();
        samples.update("a", sample(t0, 100.0, 1000.0, 500.0, 10.0));
        // Uptime went down: restarted, even though Questions grew.
        let t1 = t0 + Duration::from_secs(1);
        let since = samples.update("a", sample(t1, 1.0, 2000.0, 600.0, 10.0));
        assert_eq!(since, Since::default());
        // Uptime grew, but by far less than the 10 s in between, and Questions grew past the
        // old figure: restarted too.
        let t1 = t1 + Duration::from_secs(10);
        let since = samples.update("a", sample(t1, 2.0, 3000.0, 700.0, 10.0));
        assert_eq!(since, Since::default());
        // No time passed.
        assert_eq!(
            samples.update("a", sample(t1, 2.0, 3000.0, 700.0, 10.0)),
            Since::default()
        );
        // A counter that went down.
        let t2 = t1 + Duration::from_secs(1);
        let since = samples.update("a", sample(t2, 3.0, 10.0, 800.0, 10.0));
        assert_eq!(since.queries_per_second, None);
        assert_eq!(since.hit_percent, Some(100.0));
        // No page requested: no hit ratio.
        let t3 = t2 + Duration::from_secs(1);
        let since = samples.update("a", sample(t3, 4.0, 20.0, 800.0, 10.0));
        assert_eq!(since.queries_per_second, Some(10.0));
        assert_eq!(since.hit_percent, None);
        assert!(since.compared);
    }
}
