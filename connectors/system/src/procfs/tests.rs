use super::*;

#[test]
fn loadavg_fields() {
    let load = parse_loadavg("0.59 0.41 0.19 1/138 9712\n").unwrap();
    assert_eq!(
        load,
        LoadAvg {
            load1: 0.59,
            load5: 0.41,
            load15: 0.19,
            running: 1,
            total: 138,
        }
    );
}

#[test]
fn loadavg_rejects_truncated_text() {
    let err = parse_loadavg("0.59 0.41 0.19\n").unwrap_err();
    assert!(err.to_string().contains("running/total"), "{err}");
    assert!(parse_loadavg("").is_err());
    assert!(parse_loadavg("x 0.41 0.19 1/138 9712").is_err());
}

const MEMINFO: &str = "\
MemTotal:       24684084 kB
MemFree:        22504024 kB
MemAvailable:   23993248 kB
Buffers:           10112 kB
Cached:          1698868 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        1048572 kB
HugePages_Total:       0
";

#[test]
fn meminfo_converts_kib_to_bytes() {
    let mem = parse_meminfo(MEMINFO).unwrap();
    assert_eq!(mem.total_bytes, 24_684_084 * 1024);
    assert_eq!(mem.available_bytes, 23_993_248 * 1024);
    assert_eq!(mem.used_bytes(), (24_684_084 - 23_993_248) * 1024);
    assert_eq!(mem.swap_total_bytes, 2_097_148 * 1024);
    assert_eq!(mem.swap_used_bytes(), (2_097_148 - 1_048_572) * 1024);
    let percent = mem.used_percent().unwrap();
    assert!((percent - 2.798_7).abs() < 0.001, "{percent}");
}

#[test]
fn meminfo_without_memavailable_estimates_it() {
    let old_kernel = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
    let mem = parse_meminfo(old_kernel).unwrap();
    assert_eq!(mem.available_bytes, 400 * 1024);
    assert_eq!(mem.swap_total_bytes, 0);
}

#[test]
fn meminfo_errors() {
    let err = parse_meminfo("MemFree: 1 kB\n").unwrap_err();
    assert!(err.to_string().contains("MemTotal"), "{err}");
    let err = parse_meminfo("MemTotal: lots kB\nMemAvailable: 1 kB\n").unwrap_err();
    assert!(
        err.to_string().contains("MemTotal is not a number"),
        "{err}"
    );
    let err = parse_meminfo("MemTotal: 1 MB\nMemAvailable: 1 kB\n").unwrap_err();
    assert!(err.to_string().contains("unknown unit"), "{err}");
}

const STAT: &str = "\
cpu  10763 0 3494 67295 420 0 70 12 0 0
cpu0 5340 0 1484 34124 42 0 16 2 0 0
cpu1 5423 0 2010 33171 377 0 54 10 0 0
intr 315028 0 0 0
ctxt 867678
btime 1700000000
processes 9715
procs_running 1
procs_blocked 0
softirq 1 2 3
";

#[test]
fn stat_cpu_totals_and_count() {
    let stat = parse_stat(STAT).unwrap();
    assert_eq!(stat.cpu_count, 2);
    // guest columns (the last two) are not added: they are inside user and nice already.
    let total = 10763 + 3494 + 67295 + 420 + 70 + 12;
    assert_eq!(stat.cpu.total, total);
    assert_eq!(stat.cpu.busy, total - 67295 - 420);
}

#[test]
fn stat_old_kernel_with_four_columns() {
    let stat = parse_stat("cpu 10 20 30 40\ncpu0 10 20 30 40\n").unwrap();
    assert_eq!(
        stat.cpu,
        CpuTimes {
            busy: 60,
            total: 100
        }
    );
    assert_eq!(stat.cpu_count, 1);
}

#[test]
fn stat_errors() {
    assert!(parse_stat("cpu0 1 2 3 4\n").is_err());
    assert!(parse_stat("cpu 1 2 x 4\n").is_err());
    assert!(parse_stat("cpu 1 2 3\n").is_err());
}

#[test]
fn cpu_busy_percent_between_samples() {
    let earlier = CpuTimes {
        busy: 100,
        total: 1000,
    };
    let now = CpuTimes {
        busy: 150,
        total: 1200,
    };
    assert_eq!(now.busy_percent_since(&earlier), Some(25.0));
    // since boot
    assert_eq!(now.busy_percent_since(&CpuTimes::default()), Some(12.5));
    // no tick elapsed, or counters reset
    assert_eq!(now.busy_percent_since(&now), None);
    assert_eq!(earlier.busy_percent_since(&now), None);
    // busy cannot exceed elapsed time even if iowait went backwards
    let odd = CpuTimes {
        busy: 400,
        total: 1100,
    };
    assert_eq!(odd.busy_percent_since(&earlier), Some(100.0));
}

#[test]
fn uptime_seconds() {
    assert_eq!(parse_uptime("413.08 672.95\n").unwrap(), 413.08);
    assert!(parse_uptime("").is_err());
    assert!(parse_uptime("-1 2").is_err());
}

#[test]
fn mounts_with_escaped_paths() {
    let text = "\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,relatime 0 0
/dev/sdb1 /mnt/my\\040disk\\134x vfat rw 0 0
truncated-line
";
    let mounts = parse_mounts(text);
    assert_eq!(mounts.len(), 3);
    assert_eq!(
        mounts[0],
        Mount {
            device: "/dev/vda".into(),
            mount_point: "/".into(),
            fstype: "ext4".into(),
        }
    );
    assert_eq!(mounts[1].fstype, "proc");
    assert_eq!(mounts[2].mount_point, "/mnt/my disk\\x");
}

#[test]
fn unescape_leaves_non_octal_backslashes() {
    assert_eq!(unescape("a\\b"), "a\\b");
    assert_eq!(unescape("a\\09"), "a\\09");
    assert_eq!(unescape("tab\\011end"), "tab\tend");
    assert_eq!(unescape("trailing\\04"), "trailing\\04");
}
