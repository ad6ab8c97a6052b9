//! Real collections on this machine.

use dbmon_connector_api::{ClusterConfig, CollectContext, Connector, NodeStatus, Status};
use dbmon_connector_system::{Options, System};
use dbmon_test_support::{docs::ConnectorDir, readme_kinds::ReadmeKinds};
use std::time::{Duration, Instant};

fn system(options: Options) -> System {
    let config = ClusterConfig {
        id: "local".into(),
        endpoints: vec![],
        interval_ms: 5000,
        timeout_ms: 5000,
        tls: None,
        auth: None,
        options,
    };
    <System as Connector>::new(config).expect("valid options")
}

fn ctx(sequence: u64) -> CollectContext {
    CollectContext {
        sequence,
        deadline: Instant::now() + Duration::from_secs(5),
    }
}

fn root_fstype() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[1] == "/").then(|| f[2].to_string())
        })
        .next_back()
}

#[tokio::test(flavor = "multi_thread")]
async fn collects_this_machine() {
    let system = system(Options::default());
    let report = system.collect(&ctx(1)).await.expect("a report");

    let memory_total = report
        .value("memory_total_bytes")
        .expect("memory_total_bytes");
    assert!(memory_total > 0.0, "{memory_total}");
    let cpus = report.value("cpu_count").expect("cpu_count");
    assert!(cpus >= 1.0, "{cpus}");
    let used = report.value("memory_used_percent").unwrap();
    assert!((0.0..=100.0).contains(&used), "{used}");
    assert!(report.value("uptime_seconds").unwrap() > 0.0);
    assert!(report.value("processes_total").unwrap() >= 1.0);
    let cpu = report.value("cpu_used_percent").unwrap();
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    // Reasons are only about thresholds on a healthy /proc, never about reading it.
    for reason in report.reasons() {
        assert!(!reason.contains("/proc"), "{reason}");
    }

    let nodes: Vec<_> = report.nodes().collect();
    assert_eq!(nodes.len(), 1);
    let (node, id, status) = nodes[0];
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(id, hostname.trim());
    assert_eq!(report.address_of(node), Some(hostname.trim()));
    assert_eq!(status, NodeStatus::Live);
    for name in ["load1", "memory_used_percent", "uptime_seconds"] {
        assert!(
            report
                .series()
                .any(|s| s.name() == name && s.node() == Some(node)),
            "no node metric {name}"
        );
    }
    let memory = report
        .series()
        .find(|s| s.name() == "memory_total_bytes")
        .unwrap();
    assert_eq!(memory.unit(), Some("bytes"));

    let excluded = Options::default().exclude_fstypes;
    match root_fstype() {
        Some(fstype) if !excluded.contains(&fstype) => {
            let root = report
                .series()
                .find(|s| s.name() == "disk_used_percent" && s.label("mount") == Some("/"))
                .expect("a disk_used_percent metric for /");
            assert_eq!(root.unit(), Some("percent"));
            assert_eq!(root.label("fstype"), Some(fstype.as_str()));
            assert!((0.0..=100.0).contains(&root.value()));
            assert!(report.series().any(|s| s.name() == "disk_total_bytes"
                && s.label("mount") == Some("/")
                && s.value() > 0.0));
        }
        _ => eprintln!("/ is not mounted or is of an excluded type: not checked"),
    }
    // Pseudo filesystems stay out by default.
    assert!(
        !report
            .series()
            .any(|s| s.name().starts_with("disk_") && s.label("mount") == Some("/proc"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_has_the_kind_the_readme_gives_it() {
    // `/` listed, so that the disk metrics are there whatever its type.
    let system = system(Options {
        mounts: vec!["/".into()],
        ..Options::default()
    });
    let report = system.collect(&ctx(1)).await.unwrap();
    let kinds = ReadmeKinds::read(&ConnectorDir::new(env!("CARGO_MANIFEST_DIR")));
    let checked = kinds.check(&report);
    assert!(checked.unseen_cluster.is_empty(), "{checked:?}");
    assert!(checked.unseen_node.is_empty(), "{checked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listed_mount_is_reported_whatever_its_type() {
    let system = system(Options {
        mounts: vec!["/".into(), "/not/mounted/here".into()],
        ..Options::default()
    });
    let report = system.collect(&ctx(1)).await.unwrap();
    let used = report
        .value("disk_used_percent")
        .expect("disk_used_percent for /");
    assert!((0.0..=100.0).contains(&used), "{used}");
    assert!(report.value("disk_total_bytes").unwrap() > 0.0);
    assert!(report.status() >= Status::Degraded);
    assert!(
        report
            .reasons()
            .any(|r| r == "mount /not/mounted/here is not mounted"),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn thresholds_at_zero_make_every_figure_a_reason() {
    let system = system(Options {
        disk_used_degraded_percent: 0.0,
        disk_used_unhealthy_percent: 0.0,
        memory_used_degraded_percent: 0.0,
        load_per_cpu_degraded: f64::MIN_POSITIVE,
        mounts: vec!["/".into()],
        ..Options::default()
    });
    let report = system.collect(&ctx(1)).await.unwrap();
    let reasons: Vec<&str> = report.reasons().collect();
    assert_eq!(report.status(), Status::Unhealthy, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("disk / is ") && r.ends_with("% full (threshold 0 %)")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("memory is ")),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cpu_percent_covers_the_time_between_collections() {
    let system = system(Options::default());
    let first = system.collect(&ctx(1)).await.unwrap();
    // Burn CPU on a blocking thread so that the second figure has ticks to measure.
    tokio::task::spawn_blocking(|| {
        let until = Instant::now() + Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    })
    .await
    .unwrap();
    let second = system.collect(&ctx(2)).await.unwrap();
    let cpus = second.value("cpu_count").unwrap();
    let first = first.value("cpu_used_percent").unwrap();
    let second = second.value("cpu_used_percent").unwrap();
    assert!((0.0..=100.0).contains(&first), "{first}");
    assert!((0.0..=100.0).contains(&second), "{second}");
    // A busy loop on one of N CPUs is at least 1/N of them, give or take tick rounding.
    assert!(second > 100.0 / cpus * 0.5, "{second} % on {cpus} CPUs");
}
