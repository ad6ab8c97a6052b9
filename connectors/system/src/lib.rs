//! # dbmon-connector-system
//!
//! The `system` connector: the machine the host runs on, as a one-node cluster. It reads
//! /proc (load, CPU, memory, uptime, mounts) and calls statvfs for disk space, so that the
//! host's default configuration shows live data on any Linux box with nothing else installed.
//! See README.md for options, metrics and health rules.

mod disks;
mod options;
mod procfs;
mod verdict;

pub use options::{
    DEFAULT_DISK_USED_DEGRADED_PERCENT, DEFAULT_DISK_USED_UNHEALTHY_PERCENT,
    DEFAULT_EXCLUDE_FSTYPES, DEFAULT_LOAD_PER_CPU_DEGRADED, DEFAULT_MEMORY_USED_DEGRADED_PERCENT,
    Options,
};

use dbmon_connector_api::{
    ClusterConfig, CollectContext, ConfigError, Connector, ConnectorInfo, Error, NodeRef,
    NodeStatus, Report, export_connector,
};
use disks::Outcome;
use procfs::{CpuTimes, FormatError};
use std::sync::{Mutex, PoisonError};
use verdict::{Finding, Level};

const LOADAVG: &str = "/proc/loadavg";
const MEMINFO: &str = "/proc/meminfo";
const STAT: &str = "/proc/stat";
const UPTIME: &str = "/proc/uptime";
const MOUNTS: &str = "/proc/self/mounts";
const HOSTNAME: &str = "/proc/sys/kernel/hostname";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// One `system` cluster: the validated options and what must survive between collections.
pub struct System {
    options: Options,
    cpu: Mutex<CpuState>,
    disks: disks::Prober,
}

/// The /proc/stat totals of the previous collection, so that `cpu_used_percent` covers the
/// time since then rather than since boot.
#[derive(Default)]
struct CpuState {
    previous: Option<CpuTimes>,
    last_percent: Option<f64>,
}

impl Connector for System {
    type Options = Options;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "system",
            version: env!("CARGO_PKG_VERSION"),
            description: "this machine as a one-node cluster: load, CPU, memory, disks, uptime",
            commands: vec![],
        }
    }

    fn new(config: ClusterConfig<Options>) -> Result<Self, ConfigError> {
        Ok(System {
            options: config.options.validate()?,
            cpu: Mutex::default(),
            disks: disks::Prober::default(),
        })
    }

    async fn collect(&self, ctx: &CollectContext) -> Result<Report, Error> {
        let disk_deadline = ctx.deadline;
        let disk_budget = ctx.remaining();

        let load = read(LOADAVG, procfs::parse_loadavg);
        let mem = read(MEMINFO, procfs::parse_meminfo);
        let stat = read(STAT, procfs::parse_stat);
        let uptime = read(UPTIME, procfs::parse_uptime);
        if let (Err(e), Err(_), Err(_), Err(_)) = (&load, &mem, &stat, &uptime) {
            return Err(e.clone().into());
        }
        let mounts = std::fs::read_to_string(MOUNTS)
            .map(|text| disks::select(&procfs::parse_mounts(&text), &self.options))
            .map_err(|e| format!("cannot read {MOUNTS}: {e}"));
        let probed = match &mounts {
            Ok(selection) => self.disks.probe(&selection.mounts, disk_deadline).await,
            Err(_) => Vec::new(),
        };

        let hostname = std::fs::read_to_string(HOSTNAME)
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        let mut report = Report::with_capacity(64, 2048);
        if let Ok(release) = std::fs::read_to_string(OSRELEASE) {
            report.label("kernel", release.trim());
        }
        let node = report.node(&hostname, NodeStatus::Live);
        report.node_address(node, &hostname);
        let mut out = Out {
            report: &mut report,
            node,
            findings: Vec::new(),
            problems: Vec::new(),
        };

        let cpu_count = stat
            .as_ref()
            .ok()
            .map(|s| s.cpu_count)
            .filter(|n| *n > 0)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
        if let Some(n) = cpu_count {
            out.gauge("cpu_count", n as f64, None, &[]);
        }
        match &stat {
            Ok(stat) => {
                let percent = self.cpu_used_percent(stat.cpu);
                out.gauge("cpu_used_percent", percent, Some("percent"), &[]);
            }
            Err(e) => out.problems.push(e.clone()),
        }
        match &load {
            Ok(load) => {
                out.gauge("load1", load.load1, None, &[]);
                out.gauge("load5", load.load5, None, &[]);
                out.gauge("load15", load.load15, None, &[]);
                out.gauge("processes_running", load.running as f64, None, &[]);
                out.gauge("processes_total", load.total as f64, None, &[]);
                if let Some(n) = cpu_count {
                    out.findings
                        .extend(verdict::load(load.load1, n, &self.options));
                }
            }
            Err(e) => out.problems.push(e.clone()),
        }
        match &mem {
            Ok(mem) => {
                let bytes = Some("bytes");
                out.gauge("memory_total_bytes", mem.total_bytes as f64, bytes, &[]);
                out.gauge(
                    "memory_available_bytes",
                    mem.available_bytes as f64,
                    bytes,
                    &[],
                );
                out.gauge("memory_used_bytes", mem.used_bytes() as f64, bytes, &[]);
                if let Some(percent) = mem.used_percent() {
                    out.gauge("memory_used_percent", percent, Some("percent"), &[]);
                    out.findings.extend(verdict::memory(percent, &self.options));
                }
                out.gauge("swap_total_bytes", mem.swap_total_bytes as f64, bytes, &[]);
                out.gauge("swap_used_bytes", mem.swap_used_bytes() as f64, bytes, &[]);
            }
            Err(e) => out.problems.push(e.clone()),
        }
        match &uptime {
            Ok(seconds) => out.gauge("uptime_seconds", *seconds, Some("seconds"), &[]),
            Err(e) => out.problems.push(e.clone()),
        }
        match &mounts {
            Ok(selection) => {
                for missing in &selection.missing {
                    out.problems.push(format!("mount {missing} is not mounted"));
                }
                for (mount, outcome) in selection.mounts.iter().zip(probed) {
                    out.disk(
                        mount,
                        outcome,
                        selection.explicit,
                        disk_budget,
                        &self.options,
                    );
                }
            }
            Err(e) => out.problems.push(e.clone()),
        }

        out.finish();
        Ok(report)
    }
}

impl System {
    /// Busy share since the previous collection (since boot on the first); when no tick has
    /// passed since then, the previous figure again.
    fn cpu_used_percent(&self, now: CpuTimes) -> f64 {
        let mut state = self.cpu.lock().unwrap_or_else(PoisonError::into_inner);
        let since = state.previous.unwrap_or_default();
        let percent = now
            .busy_percent_since(&since)
            .or(state.last_percent)
            .unwrap_or(0.0);
        state.previous = Some(now);
        state.last_percent = Some(percent);
        percent
    }
}

/// Reads a /proc file and parses it; the error names the file.
fn read<T>(path: &str, parse: fn(&str) -> Result<T, FormatError>) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse(&text).map_err(|e| format!("{path}: {e}"))
}

/// The report being filled, with what will become its reasons.
struct Out<'r> {
    report: &'r mut Report,
    node: NodeRef,
    findings: Vec<Finding>,
    /// Figures that could not be read: each makes the report DEGRADED, since the verdict no
    /// longer covers everything.
    problems: Vec<String>,
}

impl Out<'_> {
    /// Adds a metric to the cluster and the same to its one node.
    fn gauge(&mut self, name: &str, value: f64, unit: Option<&str>, labels: &[(&str, &str)]) {
        for node in [None, Some(self.node)] {
            let mut metric = match node {
                None => self.report.metric(name, value),
                Some(node) => self.report.node_metric(node, name, value),
            }
            .gauge();
            if let Some(unit) = unit {
                metric = metric.unit(unit);
            }
            for (key, value) in labels {
                metric = metric.label(key, value);
            }
        }
    }

    fn disk(
        &mut self,
        mount: &procfs::Mount,
        outcome: Outcome,
        explicit: bool,
        budget: std::time::Duration,
        options: &Options,
    ) {
        let point = &mount.mount_point;
        let usage = match outcome {
            Outcome::Usage(usage) => usage,
            Outcome::Failed(e) => {
                return self
                    .problems
                    .push(format!("cannot statvfs disk {point}: {e}"));
            }
            Outcome::TimedOut => {
                return self.problems.push(format!(
                    "disk {point} did not answer statvfs within {:.1} s",
                    budget.as_secs_f64()
                ));
            }
            Outcome::StillWaiting => {
                return self.problems.push(format!(
                    "disk {point} has not answered statvfs since an earlier collection"
                ));
            }
        };
        // A discovered filesystem with no blocks is a pseudo one missing from exclude_fstypes;
        // `df` hides those too.
        if usage.total_bytes == 0 && !explicit {
            return;
        }
        let labels = [
            ("mount", point.as_str()),
            ("device", mount.device.as_str()),
            ("fstype", mount.fstype.as_str()),
        ];
        let bytes = Some("bytes");
        self.gauge("disk_total_bytes", usage.total_bytes as f64, bytes, &labels);
        self.gauge(
            "disk_available_bytes",
            usage.available_bytes as f64,
            bytes,
            &labels,
        );
        if let Some(percent) = usage.used_percent() {
            self.gauge("disk_used_percent", percent, Some("percent"), &labels);
            self.findings.extend(verdict::disk(point, percent, options));
        }
    }

    fn finish(self) {
        for finding in self.findings {
            match finding.level {
                Level::Degraded => self.report.degraded(finding.reason),
                Level::Unhealthy => self.report.unhealthy(finding.reason),
            }
        }
        for problem in self.problems {
            self.report.degraded(problem);
        }
    }
}

export_connector!(System);
