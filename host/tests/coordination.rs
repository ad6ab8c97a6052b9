//! The coordination of collectors against a real etcd cluster (three members on loopback):
//! shares, a leave, a crash, a join with its fencing, and etcd losing its quorum. Every
//! moment sampled (every 10 ms) has no cluster owned by two coordinators.

use dbmon::{
    config,
    coordination::{Candidate, Coordinator, LeaseState},
};
use dbmon_test_support::etcd::Cluster;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const TTL: Duration = Duration::from_secs(3);

fn settings(etcd: &Cluster, prefix: &str) -> config::Coordination {
    config::Coordination {
        endpoints: etcd.endpoints(),
        tls: None,
        auth: None,
        lease_ttl: TTL,
        prefix: prefix.into(),
    }
}

fn clusters(n: usize) -> Vec<Candidate> {
    (0..n).map(|i| Candidate::new(format!("c{i:03}"))).collect()
}

type Owned = BTreeMap<String, BTreeSet<Arc<str>>>;

/// The coordinators of a test, sampled every 10 ms for clusters owned twice.
struct Group {
    members: Arc<Mutex<BTreeMap<String, Coordinator>>>,
    overlaps: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<tokio::task::JoinHandle<()>>,
}

impl Group {
    fn new() -> Group {
        let members: Arc<Mutex<BTreeMap<String, Coordinator>>> = Default::default();
        let overlaps = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let (members, overlaps, stop) = (members.clone(), overlaps.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut seen = BTreeSet::new();
                    for c in members.lock().unwrap().values() {
                        for id in c.owned().borrow().iter() {
                            if !seen.insert(id.clone()) {
                                overlaps.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        Group {
            members,
            overlaps,
            stop,
            sampler: Some(sampler),
        }
    }

    async fn join(&self, s: &config::Coordination, id: &str, weight: u32, n: usize) {
        let c = Coordinator::join(s, id, weight, clusters(n))
            .await
            .expect("joins");
        self.members.lock().unwrap().insert(id.into(), c);
    }

    fn take(&self, id: &str) -> Coordinator {
        self.members.lock().unwrap().remove(id).expect("a member")
    }

    fn owned(&self) -> Owned {
        self.members
            .lock()
            .unwrap()
            .iter()
            .map(|(id, c)| (id.clone(), (**c.owned().borrow()).clone()))
            .collect()
    }

    /// Waits until `done` holds for the owned sets; panics with them after `within`.
    async fn until(&self, within: Duration, what: &str, done: impl Fn(&Owned) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            let owned = self.owned();
            if done(&owned) {
                return start.elapsed();
            }
            if start.elapsed() > within {
                let sizes: BTreeMap<_, _> = owned.iter().map(|(k, v)| (k, v.len())).collect();
                let statuses: Vec<_> = self
                    .members
                    .lock()
                    .unwrap()
                    .values()
                    .map(|c| format!("{:?}", c.status()))
                    .collect();
                panic!("{what}: not within {within:?}; owned {sizes:?}\n{statuses:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every coordinator sees `n` members that all applied the newest join, and
    /// each of `clusters` is owned once: a settled view, not a moment inside a change.
    async fn settled(&self, n: usize, clusters: usize) {
        let start = Instant::now();
        loop {
            let calm = self.members.lock().unwrap().values().all(|c| {
                let s = c.status();
                let newest = s.members.iter().map(|m| m.joined).max().unwrap_or(0);
                s.members.len() == n && s.members.iter().all(|m| m.applied >= newest)
            });
            if calm && exactly_once(clusters)(&self.owned()) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "not settled in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn overlaps(&self) -> u64 {
        self.overlaps.load(Ordering::Relaxed)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.sampler.take() {
            s.abort();
        }
    }
}

/// Every one of `n` clusters owned by exactly one coordinator.
fn exactly_once(n: usize) -> impl Fn(&Owned) -> bool {
    move |owned| {
        let total: usize = owned.values().map(|s| s.len()).sum();
        let union: BTreeSet<_> = owned.values().flatten().collect();
        total == n && union.len() == n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_three_share_then_one_leaves_then_one_crashes() {
    let etcd = Cluster::start("co", 3, &[]).await;
    let s = settings(&etcd, "/t1");
    let group = Group::new();
    for id in ["a", "b", "c"] {
        group.join(&s, id, 1, 300).await;
    }
    group.settled(3, 300).await;
    for (id, set) in group.owned() {
        assert!((80..=120).contains(&set.len()), "{id} owns {}", set.len());
    }
    let status = group.members.lock().unwrap()["a"].status();
    assert_eq!(status.members.len(), 3, "{status:?}");
    assert!(
        matches!(status.lease, LeaseState::Valid { .. }),
        "{status:?}"
    );

    // A leave: its clusters go to the others within about one interval.
    let before = group.owned();
    let leaver = group.take("b");
    leaver.leave().await;
    let took = group
        .until(Duration::from_secs(3), "after b left", exactly_once(300))
        .await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let after = group.owned();
    for id in ["a", "c"] {
        assert!(
            before[id].is_subset(&after[id]),
            "{id} lost clusters when b left"
        );
    }

    // A crash: the tasks stop without revoking; the clusters move once the lease expires.
    let crashed = group.take("c");
    let crash = Instant::now();
    drop(crashed);
    group
        .until(
            TTL + Duration::from_secs(3),
            "after c crashed",
            exactly_once(300),
        )
        .await;
    assert!(
        crash.elapsed() >= TTL - Duration::from_secs(1),
        "moved before the lease expired"
    );
    assert_eq!(
        group.overlaps(),
        0,
        "a cluster was owned twice at a sampled moment"
    );
    let status = group.members.lock().unwrap()["a"].status();
    assert_eq!(status.members.len(), 1, "{status:?}");
    assert_eq!(status.overlaps, 0);
    assert!(status.moves_last_hour >= 200, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_a_fourth_takes_a_quarter_only_after_the_others_applied() {
    let etcd = Cluster::start("cj", 3, &[]).await;
    let s = settings(&etcd, "/t2");
    let group = Group::new();
    for id in ["a", "b", "c"] {
        group.join(&s, id, 1, 300).await;
    }
    group.settled(3, 300).await;
    let before = group.owned();
    group.join(&s, "d", 1, 300).await;
    group
        .until(Duration::from_secs(5), "four share", exactly_once(300))
        .await;
    let after = group.owned();
    for id in ["a", "b", "c"] {
        assert!(
            after[id].is_subset(&before[id]),
            "{id} gained when d joined"
        );
    }
    let moved = after["d"].len();
    assert!((50..=100).contains(&moved), "{moved} moved to d");
    assert_eq!(
        group.overlaps(),
        0,
        "a cluster was owned twice at a sampled moment"
    );
    // Every other member applied d's join (d started its clusters only after that).
    let status = group.members.lock().unwrap()["d"].status();
    let joined = status
        .members
        .iter()
        .find(|m| &*m.id == "d")
        .unwrap()
        .joined;
    for m in status.members.iter().filter(|m| &*m.id != "d") {
        assert!(
            m.applied >= joined,
            "{m:?} has not applied d's join at {joined}"
        );
    }
    for id in ["a", "b", "c", "d"] {
        group.take(id).leave().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_pins_and_weights() {
    let etcd = Cluster::start("cp", 1, &[]).await;
    let s = settings(&etcd, "/t3");
    let mut candidates = clusters(200);
    candidates.push(Candidate {
        id: "pinned-a".into(),
        pinned: Some("a".into()),
    });
    candidates.push(Candidate {
        id: "pinned-away".into(),
        pinned: Some("z".into()),
    });
    let a = Coordinator::join(&s, "a", 1, candidates.clone())
        .await
        .unwrap();
    let b = Coordinator::join(&s, "b", 3, candidates).await.unwrap();
    let start = Instant::now();
    loop {
        let (oa, ob) = (a.owned().borrow().clone(), b.owned().borrow().clone());
        if oa.len() + ob.len() == 201
            && b.status().members.len() == 2
            && a.status().members.len() == 2
        {
            assert!(oa.contains("pinned-a"));
            assert!(!oa.contains("pinned-away") && !ob.contains("pinned-away"));
            // b has three times a's weight: ~150 of 200.
            assert!((120..=180).contains(&ob.len()), "b owns {}", ob.len());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?} {:?}",
            a.status(),
            b.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.leave().await;
    b.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_owns_nothing_without_quorum_and_again_when_it_is_back() {
    let mut etcd = Cluster::start("cq", 3, &[]).await;
    let s = settings(&etcd, "/t4");
    let group = Group::new();
    for id in ["a", "b"] {
        group.join(&s, id, 1, 100).await;
    }
    group
        .until(Duration::from_secs(10), "two share", exactly_once(100))
        .await;
    etcd.member("cq2").stop();
    etcd.member("cq3").stop();
    let lost = Instant::now();
    group
        .until(
            TTL + Duration::from_secs(4),
            "nothing owned without quorum",
            |o| o.values().all(|s| s.is_empty()),
        )
        .await;
    // Kept what they owned until the lease would have expired.
    assert!(
        lost.elapsed() >= TTL / 2,
        "gave up after {:?}",
        lost.elapsed()
    );
    for c in group.members.lock().unwrap().values() {
        let status = c.status();
        assert!(status.why_nothing.is_some(), "{status:?}");
        assert_ne!(status.lease, LeaseState::Joining, "{status:?}");
    }
    etcd.member("cq2").restart();
    etcd.member("cq3").restart();
    etcd.wait_healthy(Duration::from_secs(30)).await;
    group
        .until(
            Duration::from_secs(20),
            "owned again with quorum",
            exactly_once(100),
        )
        .await;
    assert_eq!(
        group.overlaps(),
        0,
        "a cluster was owned twice at a sampled moment"
    );
    for id in ["a", "b"] {
        group.take(id).leave().await;
    }
}
