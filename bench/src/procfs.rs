//! A process's CPU time, memory and threads, read from `/proc/PID/{stat,status}`.

use std::io;

/// One reading of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// User + system CPU time since the process started, in seconds.
    pub cpu_seconds: f64,
    /// The system (kernel) part of it, in seconds.
    pub system_seconds: f64,
    /// Peak resident set size (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// Resident set size now (`VmRSS`), in KiB.
    pub rss_kib: u64,
    /// Its anonymous part (`RssAnon`: heap, stacks), in KiB.
    pub rss_anon_kib: u64,
    /// Its file-backed part (`RssFile`: the binary, mapped files), in KiB.
    pub rss_file_kib: u64,
    /// Threads now.
    pub threads: u64,
}

/// Reads process `pid` (`None`: this process).
pub fn sample(pid: Option<u32>) -> io::Result<Sample> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_string(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let (user, system) = cpu_ticks(&stat)?;
    let seconds = |ticks: u64| ticks as f64 / ticks_per_second() as f64;
    Ok(Sample {
        cpu_seconds: seconds(user + system),
        system_seconds: seconds(system),
        peak_rss_kib: status_field(&status, "VmHWM").unwrap_or(0),
        rss_kib: status_field(&status, "VmRSS").unwrap_or(0),
        rss_anon_kib: status_field(&status, "RssAnon").unwrap_or(0),
        rss_file_kib: status_field(&status, "RssFile").unwrap_or(0),
        threads: status_field(&status, "Threads").unwrap_or(0),
    })
}

/// CPU time the whole machine spent busy (every state but idle and iowait) since boot, in
/// seconds summed over cores; with a process's own CPU time it shows what else was running.
pub fn machine_busy_seconds() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/stat format");
    let cpu = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .ok_or_else(bad)?;
    let ticks: Vec<u64> = cpu
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let busy: u64 =
        ticks.iter().take(8).sum::<u64>() - ticks.get(3).unwrap_or(&0) - ticks.get(4).unwrap_or(&0);
    Ok(busy as f64 / ticks_per_second() as f64)
}

/// The summed readings of `parent`'s direct children (the host's connector workers): CPU
/// seconds and RSS add up, threads too.
pub fn children(parent: u32) -> io::Result<Sample> {
    let mut total = Sample::default();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        if let Ok(child) = sample(Some(pid)) {
            total.cpu_seconds += child.cpu_seconds;
            total.system_seconds += child.system_seconds;
            total.peak_rss_kib += child.peak_rss_kib;
            total.rss_kib += child.rss_kib;
            total.rss_anon_kib += child.rss_anon_kib;
            total.rss_file_kib += child.rss_file_kib;
            total.threads += child.threads;
        }
    }
    Ok(total)
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Clock ticks per second, the unit of `utime` and `stime` (`sysconf(_SC_CLK_TCK)`).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// `(utime, stime)` from the text of `/proc/PID/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> io::Result<(u64, u64)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected /proc/PID/stat format",
        )
    };
    let after_name = stat.rfind(')').ok_or_else(bad)?;
    // After the name come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[after_name + 1..].split_whitespace().collect();
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(bad)
    };
    Ok((field(14)?, field(15)?))
}

/// The number in a `Name:   123 kB` line of `/proc/PID/status`.
fn status_field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_after_a_name_with_spaces_and_parentheses() {
        let stat = "42 (a) b (c) S 1 42 42 0 -1 4194304 100 0 0 0 250 31 0 0 20 0 3 0 5 0 0";
        assert_eq!(cpu_ticks(stat).unwrap(), (250, 31));
    }

    #[test]
    fn reads_the_machine() {
        assert!(machine_busy_seconds().unwrap() > 0.0);
        assert!(load_average() >= 0.0);
    }

    #[test]
    fn reads_this_process() {
        let s = sample(None).unwrap();
        assert!(s.threads >= 1 && s.rss_kib > 0 && s.peak_rss_kib >= s.rss_kib);
        assert_eq!(status_field("VmHWM:\t  1234 kB\n", "VmHWM"), Some(1234));
    }
}
