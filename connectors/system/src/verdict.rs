//! Thresholds → reasons. Each rule looks at one figure and says whether, and how badly, it is
//! over its threshold, in a sentence that names the figure and the threshold.

use crate::Options;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Makes the cluster at least DEGRADED.
    Degraded,
    /// Makes the cluster UNHEALTHY.
    Unhealthy,
}

/// One figure over its threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// Why, for the operator.
    pub reason: String,
}

/// A disk fuller than the unhealthy threshold, else than the degraded one.
pub fn disk(mount: &str, used_percent: f64, options: &Options) -> Option<Finding> {
    let (level, threshold) = if used_percent > options.disk_used_unhealthy_percent {
        (Level::Unhealthy, options.disk_used_unhealthy_percent)
    } else if used_percent > options.disk_used_degraded_percent {
        (Level::Degraded, options.disk_used_degraded_percent)
    } else {
        return None;
    };
    Some(Finding {
        level,
        reason: format!("disk {mount} is {used_percent:.1} % full (threshold {threshold} %)"),
    })
}

/// Memory use above its threshold.
pub fn memory(used_percent: f64, options: &Options) -> Option<Finding> {
    let threshold = options.memory_used_degraded_percent;
    (used_percent > threshold).then(|| Finding {
        level: Level::Degraded,
        reason: format!("memory is {used_percent:.1} % used (threshold {threshold} %)"),
    })
}

/// One-minute load per CPU above its threshold.
pub fn load(load1: f64, cpu_count: usize, options: &Options) -> Option<Finding> {
    let threshold = options.load_per_cpu_degraded;
    let per_cpu = load1 / cpu_count.max(1) as f64;
    (per_cpu > threshold).then(|| Finding {
        level: Level::Degraded,
        reason: format!(
            "load1 is {load1:.2} on {cpu_count} CPUs, {per_cpu:.2} per CPU \
             (threshold {threshold} per CPU)"
        ),
    })
}

#[cfg(test)]
mod tests;
