use super::*;
use std::time::Duration;

fn mount(device: &str, mount_point: &str, fstype: &str) -> Mount {
    Mount {
        device: device.into(),
        mount_point: mount_point.into(),
        fstype: fstype.into(),
    }
}

fn points(selection: &Selection) -> Vec<&str> {
    selection
        .mounts
        .iter()
        .map(|m| m.mount_point.as_str())
        .collect()
}

fn sample() -> Vec<Mount> {
    vec![
        mount("proc", "/proc", "proc"),
        mount("/dev/vda", "/var/lib/bind", "ext4"),
        mount("/dev/vda", "/", "ext4"),
        mount("tmpfs", "/dev/shm", "tmpfs"),
        mount("tmpfs", "/run", "tmpfs"),
        mount("/dev/vdb1", "/data", "xfs"),
        mount("overlay", "/var/lib/docker/overlay2/x/merged", "overlay"),
        mount("/dev/loop3", "/snap/core/1", "squashfs"),
    ]
}

#[test]
fn discovery_skips_pseudo_filesystems_and_bind_mounts() {
    let selection = select(&sample(), &Options::default());
    assert!(!selection.explicit);
    assert!(selection.missing.is_empty());
    // /dev/vda is kept once, at its shortest mount point, in first-seen position.
    assert_eq!(points(&selection), ["/", "/data"]);
}

#[test]
fn exclude_fstypes_replaces_the_default_list() {
    let options = Options {
        exclude_fstypes: vec!["proc".into(), "xfs".into()],
        ..Options::default()
    };
    let selection = select(&sample(), &options);
    // tmpfs mounts share a device name but are different filesystems.
    assert_eq!(
        points(&selection),
        [
            "/",
            "/dev/shm",
            "/run",
            "/var/lib/docker/overlay2/x/merged",
            "/snap/core/1"
        ]
    );
}

#[test]
fn listed_mounts_ignore_fstype_and_report_missing_ones() {
    let mut all = sample();
    all.push(mount("tmpfs", "/run", "tmpfs")); // mounted over the first /run
    let options = Options {
        mounts: vec!["/run".into(), "/var/lib/bind".into(), "/nope".into()],
        ..Options::default()
    };
    let selection = select(&all, &options);
    assert!(selection.explicit);
    assert_eq!(points(&selection), ["/run", "/var/lib/bind"]);
    assert_eq!(selection.missing, ["/nope"]);
}

#[test]
fn used_percent_matches_df() {
    // df: 1K-blocks 1000, Used 600, Avail 350 (50 reserved) -> Use% 63 (rounded up from 63.16)
    let usage = Usage::from_blocks(250, 100, 87, 4096);
    assert_eq!(usage.total_bytes, 250 * 4096);
    assert_eq!(usage.used_bytes, 150 * 4096);
    assert_eq!(usage.available_bytes, 87 * 4096);
    let percent = usage.used_percent().unwrap();
    assert!((percent - 150.0 / 237.0 * 100.0).abs() < 1e-9, "{percent}");
    assert_eq!(Usage::from_blocks(0, 0, 0, 4096).used_percent(), None);
}

#[test]
fn statvfs_root_and_missing_path() {
    let root = statvfs("/").unwrap();
    assert!(root.total_bytes > 0);
    assert!(root.used_bytes <= root.total_bytes);
    let err = statvfs("/definitely/not/here").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn prober_reports_each_mount_and_skips_calls_still_in_flight() {
    let prober = Prober::default();
    let mounts = [
        mount("/dev/vda", "/", "ext4"),
        mount("x", "/definitely/not/here", "ext4"),
        mount("y", "/hung", "nfs"),
    ];
    // Pretend a statvfs of /hung from an earlier collection is still blocked.
    lock(&prober.in_flight).insert("/hung".into());
    let outcomes = prober
        .probe(&mounts, Instant::now() + Duration::from_secs(5))
        .await;
    assert!(matches!(outcomes[0], Outcome::Usage(u) if u.total_bytes > 0));
    assert!(matches!(&outcomes[1], Outcome::Failed(e) if e.kind() == io::ErrorKind::NotFound));
    assert!(matches!(outcomes[2], Outcome::StillWaiting));
    // Finished calls leave the in-flight set; the pretend-blocked one stays.
    let in_flight = lock(&prober.in_flight).clone();
    assert_eq!(in_flight, HashSet::from(["/hung".to_string()]));
}

fn hangs_for_a_second(path: &str) -> io::Result<Usage> {
    std::thread::sleep(Duration::from_secs(1));
    statvfs(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn prober_gives_up_at_the_deadline_and_waits_for_the_hung_call() {
    let prober = Prober {
        statvfs: hangs_for_a_second,
        ..Prober::default()
    };
    let mounts = [mount("/dev/vda", "/", "ext4")];
    let started = Instant::now();
    let first = prober
        .probe(&mounts, started + Duration::from_millis(100))
        .await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(matches!(first[0], Outcome::TimedOut), "{first:?}");

    // The hung call is not repeated while it is still running...
    let second = prober
        .probe(&mounts, Instant::now() + Duration::from_millis(100))
        .await;
    assert!(matches!(second[0], Outcome::StillWaiting), "{second:?}");

    // ...and once it has returned, the mount is asked again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let third = prober
        .probe(&mounts, Instant::now() + Duration::from_secs(5))
        .await;
    assert!(matches!(third[0], Outcome::Usage(_)), "{third:?}");
}
