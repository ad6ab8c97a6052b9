//! Parsers for the /proc files the connector reads. Each takes the file's text, so that it is
//! tested on literal samples; reading the files is the caller's business.

/// A /proc file whose text is not what the kernel writes.
#[derive(Debug, thiserror::Error)]
#[error("unexpected format: {0}")]
pub struct FormatError(String);

fn malformed(what: impl Into<String>) -> FormatError {
    FormatError(what.into())
}

/// /proc/loadavg: `0.59 0.41 0.19 1/138 9712`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadAvg {
    /// Load average over one minute.
    pub load1: f64,
    /// Over five minutes.
    pub load5: f64,
    /// Over fifteen minutes.
    pub load15: f64,
    /// Runnable scheduling entities (threads) right now.
    pub running: u64,
    /// All scheduling entities (threads) on the machine.
    pub total: u64,
}

/// Parses /proc/loadavg.
pub fn parse_loadavg(text: &str) -> Result<LoadAvg, FormatError> {
    let mut fields = text.split_whitespace();
    let mut load = |name: &str| -> Result<f64, FormatError> {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| malformed(format!("{name} is not a number in {text:?}")))
    };
    let (load1, load5, load15) = (load("load1")?, load("load5")?, load("load15")?);
    let (running, total) = fields
        .next()
        .and_then(|f| f.split_once('/'))
        .and_then(|(r, t)| Some((r.parse().ok()?, t.parse().ok()?)))
        .ok_or_else(|| malformed(format!("no running/total field in {text:?}")))?;
    Ok(LoadAvg {
        load1,
        load5,
        load15,
        running,
        total,
    })
}

/// The /proc/meminfo figures the connector reports, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemInfo {
    /// MemTotal.
    pub total_bytes: u64,
    /// MemAvailable: what can be allocated without swapping.
    pub available_bytes: u64,
    /// SwapTotal.
    pub swap_total_bytes: u64,
    /// SwapFree.
    pub swap_free_bytes: u64,
}

impl MemInfo {
    /// Total minus available.
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.available_bytes)
    }

    /// Used share of total; `None` when total is zero.
    pub fn used_percent(&self) -> Option<f64> {
        (self.total_bytes > 0).then(|| self.used_bytes() as f64 / self.total_bytes as f64 * 100.0)
    }

    /// Swap total minus swap free.
    pub fn swap_used_bytes(&self) -> u64 {
        self.swap_total_bytes.saturating_sub(self.swap_free_bytes)
    }
}

/// Parses /proc/meminfo (`MemTotal:  24684084 kB` lines).
pub fn parse_meminfo(text: &str) -> Result<MemInfo, FormatError> {
    let mut total = None;
    let mut available = None;
    let (mut free, mut buffers, mut cached) = (None, None, None);
    let (mut swap_total, mut swap_free) = (0, 0);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => &mut total,
            "MemAvailable" => &mut available,
            "MemFree" => &mut free,
            "Buffers" => &mut buffers,
            "Cached" => &mut cached,
            "SwapTotal" | "SwapFree" => {
                let bytes = kib_to_bytes(key, rest)?;
                if key == "SwapTotal" {
                    swap_total = bytes;
                } else {
                    swap_free = bytes;
                }
                continue;
            }
            _ => continue,
        };
        *slot = Some(kib_to_bytes(key, rest)?);
    }
    let total_bytes = total.ok_or_else(|| malformed("no MemTotal line"))?;
    // Kernels before 3.14 have no MemAvailable; free + buffers + page cache is the estimate
    // `free` used on them.
    let available_bytes = match (available, free) {
        (Some(available), _) => available,
        (None, Some(free)) => free + buffers.unwrap_or(0) + cached.unwrap_or(0),
        (None, None) => return Err(malformed("neither MemAvailable nor MemFree line")),
    };
    Ok(MemInfo {
        total_bytes,
        available_bytes,
        swap_total_bytes: swap_total,
        swap_free_bytes: swap_free,
    })
}

fn kib_to_bytes(key: &str, rest: &str) -> Result<u64, FormatError> {
    let mut fields = rest.split_whitespace();
    let value: u64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(format!("{key} is not a number: {rest:?}")))?;
    match fields.next() {
        Some("kB") => Ok(value.saturating_mul(1024)),
        None => Ok(value),
        Some(unit) => Err(malformed(format!("{key} has unknown unit {unit:?}"))),
    }
}

/// Cumulative CPU time of all CPUs, in USER_HZ ticks, from the `cpu` line of /proc/stat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// All time, idle included.
    pub total: u64,
}

impl CpuTimes {
    /// The busy share of CPU time between `earlier` and `self`, in percent; `None` when no
    /// time passed (two readings within one tick) or the counters went backwards.
    pub fn busy_percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|t| *t > 0)?;
        // iowait may go backwards on tickless kernels, which can make busy jump: clamp.
        let busy = self.busy.saturating_sub(earlier.busy).min(total);
        Some(busy as f64 / total as f64 * 100.0)
    }
}

/// What the connector takes from /proc/stat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The aggregate `cpu` line.
    pub cpu: CpuTimes,
    /// Number of `cpuN` lines: the online CPUs.
    pub cpu_count: usize,
}

/// Parses /proc/stat.
pub fn parse_stat(text: &str) -> Result<Stat, FormatError> {
    let mut cpu = None;
    let mut cpu_count = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        if key == "cpu" {
            cpu =
                Some(cpu_times(fields).ok_or_else(|| malformed(format!("bad cpu line {line:?}")))?);
        } else if key
            .strip_prefix("cpu")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            cpu_count += 1;
        }
    }
    let cpu = cpu.ok_or_else(|| malformed("no cpu line"))?;
    Ok(Stat { cpu, cpu_count })
}

/// `user nice system idle iowait irq softirq steal guest guest_nice`; older kernels stop
/// early. guest and guest_nice are already counted in user and nice, so they are left out.
fn cpu_times<'a>(fields: impl Iterator<Item = &'a str>) -> Option<CpuTimes> {
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if ticks.len() < 4 {
        return None;
    }
    let total: u64 = ticks.iter().sum();
    let idle = ticks[3] + ticks.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Parses /proc/uptime (`413.08 672.95`): seconds since boot.
pub fn parse_uptime(text: &str) -> Result<f64, FormatError> {
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| malformed(format!("no uptime in {text:?}")))
}

/// One line of /proc/self/mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted: `/dev/vda1`, `tmpfs`, `server:/export`.
    pub device: String,
    /// Where.
    pub mount_point: String,
    /// Filesystem type: `ext4`, `xfs`, `nfs4`.
    pub fstype: String,
}

/// Parses /proc/self/mounts, skipping lines with fewer than three fields. The kernel escapes
/// space, tab, newline and backslash in paths as `\040`, `\011`, `\012`, `\134`.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Mount {
                device: unescape(fields.next()?),
                mount_point: unescape(fields.next()?),
                fstype: unescape(fields.next()?),
            })
        })
        .collect()
}

fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
