//! The connector's `options:` block: every field optional, defaults as named constants, and the
//! validation `System::new` runs before anything is collected.

use dbmon_connector_api::ConfigError;
use serde::Deserialize;

/// Default of [`Options::disk_used_degraded_percent`].
pub const DEFAULT_DISK_USED_DEGRADED_PERCENT: f64 = 90.0;
/// Default of [`Options::disk_used_unhealthy_percent`].
pub const DEFAULT_DISK_USED_UNHEALTHY_PERCENT: f64 = 95.0;
/// Default of [`Options::memory_used_degraded_percent`].
pub const DEFAULT_MEMORY_USED_DEGRADED_PERCENT: f64 = 90.0;
/// Default of [`Options::load_per_cpu_degraded`].
pub const DEFAULT_LOAD_PER_CPU_DEGRADED: f64 = 2.0;
/// Default of [`Options::exclude_fstypes`]: filesystems that hold no user data (kernel views,
/// memory-backed mounts, container layers) or that are read-only images, which are always
/// 100 % full by construction and would otherwise make every Ubuntu box with snaps unhealthy.
pub const DEFAULT_EXCLUDE_FSTYPES: &[&str] = &[
    "aufs",
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "erofs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// The `options:` block of a `system` cluster.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// A disk fuller than this (percent of the space available to unprivileged users, as `df`
    /// computes it) makes the cluster DEGRADED. By default, this is 90.
    pub disk_used_degraded_percent: f64,
    /// A disk fuller than this makes the cluster UNHEALTHY. By default, this is 95.
    pub disk_used_unhealthy_percent: f64,
    /// Memory use (total − MemAvailable) above this percent makes the cluster DEGRADED.
    /// By default, this is 90.
    pub memory_used_degraded_percent: f64,
    /// A one-minute load average per online CPU above this makes the cluster DEGRADED.
    /// By default, this is 2.0.
    pub load_per_cpu_degraded: f64,
    /// Mount points to report. When set, exactly these are reported whatever their filesystem
    /// type, and one that is not mounted is a reason. By default, this is empty: every mounted
    /// filesystem whose type is not in `exclude_fstypes`, one mount per device.
    pub mounts: Vec<String>,
    /// Filesystem types left out when `mounts` is empty; setting it replaces the whole list.
    /// By default, this is [`DEFAULT_EXCLUDE_FSTYPES`].
    pub exclude_fstypes: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            disk_used_degraded_percent: DEFAULT_DISK_USED_DEGRADED_PERCENT,
            disk_used_unhealthy_percent: DEFAULT_DISK_USED_UNHEALTHY_PERCENT,
            memory_used_degraded_percent: DEFAULT_MEMORY_USED_DEGRADED_PERCENT,
            load_per_cpu_degraded: DEFAULT_LOAD_PER_CPU_DEGRADED,
            mounts: Vec::new(),
            exclude_fstypes: DEFAULT_EXCLUDE_FSTYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl Options {
    /// Checks every field and returns the options with mount points normalised (no trailing
    /// `/`, no duplicates), or the first problem with the path of the field it concerns.
    pub fn validate(mut self) -> Result<Options, ConfigError> {
        percent(
            "disk_used_degraded_percent",
            self.disk_used_degraded_percent,
        )?;
        percent(
            "disk_used_unhealthy_percent",
            self.disk_used_unhealthy_percent,
        )?;
        percent(
            "memory_used_degraded_percent",
            self.memory_used_degraded_percent,
        )?;
        if self.disk_used_degraded_percent > self.disk_used_unhealthy_percent {
            return Err(ConfigError::at(
                "options.disk_used_degraded_percent",
                format!(
                    "must not be above disk_used_unhealthy_percent ({}); got {}",
                    self.disk_used_unhealthy_percent, self.disk_used_degraded_percent
                ),
            ));
        }
        if !(self.load_per_cpu_degraded.is_finite() && self.load_per_cpu_degraded > 0.0) {
            return Err(ConfigError::at(
                "options.load_per_cpu_degraded",
                format!(
                    "must be a number above 0 (load average per CPU); got {}",
                    self.load_per_cpu_degraded
                ),
            ));
        }

        let mut mounts: Vec<String> = Vec::with_capacity(self.mounts.len());
        for (i, mount) in self.mounts.iter().enumerate() {
            if !mount.starts_with('/') {
                return Err(ConfigError::at(
                    format!("options.mounts[{i}]"),
                    format!("must be an absolute mount point such as /var; got {mount:?}"),
                ));
            }
            let trimmed = mount.trim_end_matches('/');
            let normalised = if trimmed.is_empty() { "/" } else { trimmed };
            if !mounts.iter().any(|m| m == normalised) {
                mounts.push(normalised.to_string());
            }
        }
        self.mounts = mounts;

        for (i, fstype) in self.exclude_fstypes.iter().enumerate() {
            if fstype.is_empty() || fstype.contains(char::is_whitespace) {
                return Err(ConfigError::at(
                    format!("options.exclude_fstypes[{i}]"),
                    format!("must be a filesystem type such as tmpfs; got {fstype:?}"),
                ));
            }
        }
        Ok(self)
    }
}

fn percent(field: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::at(
            format!("options.{field}"),
            format!("must be a percentage from 0 to 100; got {value}"),
        ))
    }
}
