//! Collectors that share their clusters through etcd, as real processes: three etcd members,
//! one server, three collectors with the same file of 300 clusters. Each cluster is collected
//! by exactly one collector, the shares are about even, and the clusters move by themselves
//! when a collector crashes, leaves or joins.

use crate::lib;
use dbmon_proto as proto;
use dbmon_test_support::{Host, etcd};
use proto::monitor_client::MonitorClient;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant, SystemTime},
};

const CLUSTERS: usize = 300;
const INTERVAL: Duration = Duration::from_secs(1);
const LEASE_TTL: Duration = Duration::from_secs(3);

fn server() -> Host {
    let dir = tempfile::tempdir().unwrap();
    Host::start_in_with(dir, "clusters: []\n", &["--role", "server"])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The shared file: coordination through `etcd`, 300 cheap clusters at 1 s.
fn config(etcd: &etcd::Cluster, upstream: &str) -> String {
    let endpoints = etcd.endpoints().join(", ");
    let mut text = format!(
        "coordination: {{kind: etcd, endpoints: [{endpoints}], lease_ttl: 3s, prefix: /sharding}}\n\
         collector: {{upstream: '{upstream}'}}\n\
         defaults: {{interval: 1s, timeout: 500ms, jitter: 1s}}\n\
         clusters:\n"
    );
    for i in 0..CLUSTERS {
        text.push_str(&format!(
            "  - {{id: c{i:03}, connector: misbehave, options: {{mode: ok}}}}\n"
        ));
    }
    text
}

fn collector(config: &str, id: &str) -> Host {
    let dir = crate::folder_with_plugins(&[(&lib("misbehave"), "libdbmon_connector_misbehave.so")]);
    Host::start_in_with(dir, config, &["--role", "collector", "--collector-id", id])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Per cluster, the collectors whose reports were collected at or after `since`.
async fn collected_by(
    client: &mut MonitorClient<tonic::transport::Channel>,
    since: SystemTime,
) -> BTreeMap<String, BTreeSet<String>> {
    let clusters = client
        .list_clusters(proto::ListClustersRequest {})
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let mut by = BTreeMap::new();
    for cluster in clusters {
        let reports = client
            .get_reports(proto::GetReportsRequest {
                cluster_id: cluster.id.clone(),
                limit: 0,
                since: Some(since.into()),
            })
            .await
            .unwrap()
            .into_inner()
            .reports;
        let collectors: BTreeSet<String> = reports.into_iter().map(|r| r.collector).collect();
        by.insert(cluster.id, collectors);
    }
    by
}

/// Waits until every cluster has a report collected since `since` from one of `live`, and
/// none from another; returns the owners then.
async fn settled(
    client: &mut MonitorClient<tonic::transport::Channel>,
    since: SystemTime,
    live: &[&str],
    within: Duration,
    log: impl Fn() -> String,
) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    loop {
        // Only what was collected in the last two intervals: a steady state.
        let window = SystemTime::now() - INTERVAL * 2;
        let by = collected_by(client, window.max(since)).await;
        let settled = by.len() == CLUSTERS
            && by
                .values()
                .all(|c| c.len() == 1 && live.contains(&c.iter().next().unwrap().as_str()));
        if settled {
            return by
                .into_iter()
                .map(|(cluster, c)| (cluster, c.into_iter().next().unwrap()))
                .collect();
        }
        if Instant::now() > deadline {
            let wrong: Vec<_> = by.iter().filter(|(_, c)| c.len() != 1).take(5).collect();
            panic!(
                "not settled on {live:?} within {within:?}: {} clusters, e.g. {wrong:?}\n{}",
                by.len(),
                log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn shares(owners: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut shares = BTreeMap::new();
    for owner in owners.values() {
        *shares.entry(owner.clone()).or_default() += 1;
    }
    shares
}

fn kill9(host: &Host) {
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(host.pid() as libc::pid_t, libc::SIGKILL) };
}

#[tokio::test]
async fn collectors_share_the_clusters_and_move_them_when_one_crashes_leaves_or_joins() {
    let etcd = etcd::Cluster::start("sharding", 3, &[]).await;
    let server = server();
    let config = config(&etcd, &server.url);
    let mut a = collector(&config, "a");
    let b = collector(&config, "b");
    let _c = collector(&config, "c");
    let mut client = MonitorClient::connect(server.url.clone()).await.unwrap();
    let log = || format!("server:\n{}", server.log());

    // Every cluster from exactly one collector, shares within ±20 % of even.
    let start = SystemTime::now();
    let owners = settled(
        &mut client,
        start,
        &["a", "b", "c"],
        Duration::from_secs(30),
        log,
    )
    .await;
    for (collector, share) in shares(&owners) {
        assert!(
            (80..=120).contains(&share),
            "{collector}: {share} of {CLUSTERS}"
        );
    }
    // Over a few intervals, no cluster has reports from two collectors.
    tokio::time::sleep(INTERVAL * 3).await;
    let steady = collected_by(&mut client, start + INTERVAL * 4).await;
    assert!(steady.values().all(|c| c.len() == 1), "{steady:?}");
    // The server knows who shares what.
    let collectors = client
        .list_collectors(proto::ListCollectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .collectors;
    assert_eq!(collectors.len(), 3);
    assert!(
        collectors.iter().all(|c| c.coordinated && c.members == 3),
        "{collectors:?}"
    );

    // A crash: b's clusters come back from a and c within the lease and two intervals.
    let before = owners.clone();
    kill9(&b);
    drop(b);
    let crashed = SystemTime::now();
    let within = LEASE_TTL + INTERVAL * 2 + Duration::from_secs(3);
    let owners = settled(&mut client, crashed, &["a", "c"], within, log).await;
    for (cluster, owner) in &owners {
        if before[cluster] != "b" {
            assert_eq!(
                &before[cluster], owner,
                "{cluster} moved though its collector stayed"
            );
        }
    }

    // A join: d takes about a third, and only clusters move to it.
    let before = owners.clone();
    let _d = collector(&config, "d");
    let joined = SystemTime::now();
    let owners = settled(
        &mut client,
        joined,
        &["a", "c", "d"],
        Duration::from_secs(20),
        log,
    )
    .await;
    for (collector, share) in shares(&owners) {
        assert!(
            (80..=120).contains(&share),
            "{collector}: {share} of {CLUSTERS}"
        );
    }
    for (cluster, owner) in &owners {
        if owner != "d" {
            assert_eq!(
                &before[cluster], owner,
                "{cluster} moved, not to the newcomer"
            );
        }
    }

    // A graceful leave: a's clusters move to c and d within two intervals (and a little).
    let before = owners.clone();
    a.stop();
    let left = SystemTime::now();
    let within = INTERVAL * 2 + Duration::from_secs(3);
    let owners = settled(&mut client, left, &["c", "d"], within, log).await;
    for (cluster, owner) in &owners {
        if before[cluster] != "a" {
            assert_eq!(
                &before[cluster], owner,
                "{cluster} moved though its collector stayed"
            );
        }
    }
}
