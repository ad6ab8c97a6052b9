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
/// What a loaded machine adds to a move: the observation window of [`settled`] (two
/// intervals of reports), plus the test's own polling and the CLI under load (CI runs
/// several test processes side by side on two cores).
const SLACK: Duration = Duration::from_secs(8);

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

/// Waits until every collector the server lists is coordinated and says it shares with
/// `members` collectors; a collector sends its status within a second of a change.
async fn share_heard(
    client: &mut MonitorClient<tonic::transport::Channel>,
    members: u32,
    within: Duration,
) -> Vec<proto::Collector> {
    let deadline = Instant::now() + within;
    loop {
        let collectors = client
            .list_collectors(proto::ListCollectorsRequest {})
            .await
            .unwrap()
            .into_inner()
            .collectors;
        if collectors
            .iter()
            .all(|c| c.coordinated && c.members == members)
        {
            return collectors;
        }
        assert!(Instant::now() < deadline, "{collectors:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each collector's share within ±20 % of an even one.
fn assert_even(owners: &BTreeMap<String, String>) {
    let shares = shares(owners);
    let even = CLUSTERS / shares.len();
    for (collector, share) in &shares {
        assert!(
            (even * 4 / 5..=even * 6 / 5).contains(share),
            "{collector}: {share} of {CLUSTERS} ({shares:?})"
        );
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
        Duration::from_secs(60),
        log,
    )
    .await;
    assert_even(&owners);
    // Over the next few intervals, every cluster reports, from one collector only.
    let calm = SystemTime::now();
    tokio::time::sleep(INTERVAL * 3).await;
    let steady = collected_by(&mut client, calm).await;
    assert!(steady.values().all(|c| c.len() == 1), "{steady:?}");
    // The server hears who shares what: each collector's status follows its share.
    let collectors = share_heard(&mut client, 3, SLACK).await;
    assert_eq!(collectors.len(), 3);

    // A crash: b's clusters come back from a and c within the lease and two intervals.
    let before = owners.clone();
    kill9(&b);
    drop(b);
    let crashed = SystemTime::now();
    let within = LEASE_TTL + INTERVAL * 2 + SLACK;
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
        Duration::from_secs(40),
        log,
    )
    .await;
    assert_even(&owners);
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
    let within = INTERVAL * 2 + SLACK;
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

/// A server of the shared Redis store at `url`.
fn shared_server(url: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("store: {{kind: redis, url: '{url}', history: 1000}}\nclusters: []\n");
    Host::start_in_with(dir, &config, &["--role", "server"]).unwrap_or_else(|e| panic!("{e}"))
}

/// Every report of every cluster on `client`'s server, oldest first, by cluster.
async fn histories(
    client: &mut MonitorClient<tonic::transport::Channel>,
) -> BTreeMap<String, Vec<proto::Report>> {
    let clusters = client
        .list_clusters(proto::ListClustersRequest {})
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let mut all = BTreeMap::new();
    for cluster in clusters {
        let mut reports = client
            .get_reports(proto::GetReportsRequest {
                cluster_id: cluster.id.clone(),
                limit: 0,
                since: None,
            })
            .await
            .unwrap()
            .into_inner()
            .reports;
        reports.reverse();
        all.insert(cluster.id, reports);
    }
    all
}

/// No gap and no repeat: the server's sequences of each cluster go 1, 2, 3, ... and each
/// collector's own sequences of it go up by one.
fn assert_whole(histories: &BTreeMap<String, Vec<proto::Report>>) {
    for (cluster, reports) in histories {
        let sequences: Vec<u64> = reports.iter().map(|r| r.sequence).collect();
        let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
        assert_eq!(sequences, expected, "{cluster}: server sequences");
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for r in reports {
            if let Some(previous) = last.insert(&r.collector, r.collector_sequence) {
                assert_eq!(
                    r.collector_sequence,
                    previous + 1,
                    "{cluster}: collector {} skipped or repeated a report",
                    r.collector
                );
            }
        }
    }
}

#[tokio::test]
async fn two_servers_on_one_redis_and_three_sharing_collectors_lose_nothing_when_a_server_dies() {
    let mut etcd = etcd::Cluster::start("topology", 3, &[]).await;
    let redis = dbmon_test_support::redis::Server::start_durable();
    let url = format!("redis://{}", redis.address());
    let a = shared_server(&url);
    let b = shared_server(&url);
    let config = config(&etcd, &a.url).replace(
        &format!("upstream: '{}'", a.url),
        &format!("upstream: ['{}', '{}']", a.url, b.url),
    );
    let _collectors: Vec<Host> = ["x", "y", "z"]
        .iter()
        .map(|id| collector(&config, id))
        .collect();
    let mut on_b = MonitorClient::connect(b.url.clone()).await.unwrap();
    let log = || format!("server a:\n{}\nserver b:\n{}", a.log(), b.log());

    // Server b serves what the collectors push to a: one collector per cluster, even shares.
    let start = SystemTime::now();
    let owners = settled(
        &mut on_b,
        start,
        &["x", "y", "z"],
        Duration::from_secs(40),
        log,
    )
    .await;
    assert_even(&owners);

    // One etcd member away: nothing moves.
    let name = etcd.members[0].name.clone();
    etcd.member(&name).stop();
    tokio::time::sleep(INTERVAL * 3).await;
    let stopped = SystemTime::now();
    let same = settled(
        &mut on_b,
        stopped,
        &["x", "y", "z"],
        Duration::from_secs(10),
        log,
    )
    .await;
    assert_eq!(same, owners, "a lost etcd member moved clusters");

    // Server a dies: the collectors go on to b, and b's history of every cluster is whole.
    kill9(&a);
    let killed = SystemTime::now();
    tokio::time::sleep(INTERVAL * 4).await;
    let after = settled(
        &mut on_b,
        killed,
        &["x", "y", "z"],
        Duration::from_secs(20),
        || b.log(),
    )
    .await;
    assert_eq!(
        after, owners,
        "a server's death moved clusters between collectors"
    );
    let all = histories(&mut on_b).await;
    assert_eq!(all.len(), CLUSTERS);
    assert_whole(&all);
    let collectors = on_b
        .list_collectors(proto::ListCollectorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .collectors;
    assert!(
        collectors.iter().filter(|c| c.connected).count() == 3,
        "every collector pushes to b now: {collectors:?}"
    );
}
