//! The file store survives kill -9: an all-in-one host is killed at random moments during
//! collection, and after each restart serves every report a client read before the kill
//! (same sequence, same values) and continues the sequences above them.

use crate::{json_lines, lib};
use dbmon_test_support::Host;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime},
};

const KILLS: usize = 20;

fn config(store: &std::path::Path) -> String {
    format!(
        "
plugins_dir: plugins.d
store:
  kind: file
  path: {}
  history: 1000
clusters:
  - id: fast
    connector: system
    interval: 100ms
    timeout: 90ms
",
        store.display()
    )
}

/// Every stored report of `fast`, by sequence.
async fn reports(host: &Host) -> BTreeMap<u64, Value> {
    let out = host
        .cli_async(&["--json", "reports", "fast", "--limit", "0"])
        .await;
    assert!(out.status.success(), "{out:?}");
    json_lines(&out)
        .into_iter()
        .map(|r| (r["sequence"].as_u64().expect("a sequence"), r))
        .collect()
}

/// A pseudo-random fraction in [0, 1), different at every call.
fn fraction(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_read_before_a_kill_9_is_served_after_the_restart() {
    let store = tempfile::tempdir().unwrap();
    let config = config(&store.path().join("data"));
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let started = Instant::now();
    let mut read: BTreeMap<u64, Value> = BTreeMap::new();
    for kill in 0..KILLS {
        let host = Host::start(&config, &[lib("system")]);
        let after = reports(&host).await;
        for (sequence, before) in &read {
            assert_eq!(
                after.get(sequence),
                Some(before),
                "after kill {kill}: report {sequence} read before the kill is not served the \
                 same (served: {:?}); log: {}",
                after.keys().collect::<Vec<_>>(),
                host.log()
            );
        }
        // New sequences continue above the old ones.
        let old_max = read.keys().last().copied().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let newest = loop {
            let now = reports(&host).await;
            if let Some((&newest, _)) = now.iter().next_back().filter(|(s, _)| **s > old_max) {
                break newest;
            }
            assert!(Instant::now() < deadline, "no new report after kill {kill}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(newest > old_max);
        // Read, then kill at a random moment of the collections that follow.
        tokio::time::sleep(Duration::from_millis((fraction(&mut seed) * 400.0) as u64)).await;
        read = reports(&host).await;
        tokio::time::sleep(Duration::from_millis((fraction(&mut seed) * 150.0) as u64)).await;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(host.pid() as i32, libc::SIGKILL) }, 0);
        drop(host);
    }
    assert!(read.len() > KILLS, "{} reports read", read.len());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{KILLS} kills took {:?}",
        started.elapsed()
    );
}
