//! Which mounts to report, and their usage from statvfs. statvfs blocks for as long as the
//! filesystem does (a hung NFS server: forever), so each call runs on tokio's blocking pool
//! under the collection's deadline, and a mount whose previous call never returned is not
//! asked again until it does.

use crate::{Options, procfs::Mount};
use std::{
    collections::HashSet,
    ffi::CString,
    io,
    mem::MaybeUninit,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

/// The mounts to ask about.
#[derive(Debug, PartialEq, Eq)]
pub struct Selection {
    /// Mounts to statvfs, in /proc/self/mounts order.
    pub mounts: Vec<Mount>,
    /// Mount points the operator listed that are not mounted.
    pub missing: Vec<String>,
    /// Whether the operator listed the mounts (else they were discovered).
    pub explicit: bool,
}

/// Picks the mounts to report. With `options.mounts` set: the topmost mount at each listed
/// point. Otherwise every mount whose type is not excluded, one per device (the shortest
/// mount point, as `df` does), so that bind mounts are not counted twice.
pub fn select(all: &[Mount], options: &Options) -> Selection {
    if !options.mounts.is_empty() {
        let mut mounts = Vec::new();
        let mut missing = Vec::new();
        for wanted in &options.mounts {
            match all.iter().rev().find(|m| &m.mount_point == wanted) {
                Some(m) => mounts.push(m.clone()),
                None => missing.push(wanted.clone()),
            }
        }
        return Selection {
            mounts,
            missing,
            explicit: true,
        };
    }

    let mut mounts: Vec<Mount> = Vec::new();
    for m in all {
        if options.exclude_fstypes.iter().any(|t| t == &m.fstype) {
            continue;
        }
        match mounts.iter_mut().find(|kept| same_filesystem(kept, m)) {
            Some(kept) if m.mount_point.len() < kept.mount_point.len() => *kept = m.clone(),
            Some(_) => {}
            None => mounts.push(m.clone()),
        }
    }
    Selection {
        mounts,
        missing: Vec::new(),
        explicit: false,
    }
}

/// Device paths name one filesystem; names like `tmpfs` or `none` do not, so those are told
/// apart by mount point.
fn same_filesystem(a: &Mount, b: &Mount) -> bool {
    if a.device.starts_with('/') {
        a.device == b.device
    } else {
        a.mount_point == b.mount_point
    }
}

/// Space on one filesystem, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Size of the filesystem (`f_blocks`).
    pub total_bytes: u64,
    /// In use (`f_blocks − f_bfree`), reserved blocks excluded.
    pub used_bytes: u64,
    /// Free to unprivileged users (`f_bavail`).
    pub available_bytes: u64,
}

impl Usage {
    /// From statvfs's block counts and fragment size.
    pub fn from_blocks(blocks: u64, free: u64, available: u64, fragment_size: u64) -> Usage {
        Usage {
            total_bytes: blocks.saturating_mul(fragment_size),
            used_bytes: blocks.saturating_sub(free).saturating_mul(fragment_size),
            available_bytes: available.saturating_mul(fragment_size),
        }
    }

    /// `df`'s Use%: used / (used + available), so that blocks reserved for root count as
    /// unavailable. `None` for a filesystem with no space at all.
    pub fn used_percent(&self) -> Option<f64> {
        let usable = self.used_bytes.saturating_add(self.available_bytes);
        (usable > 0).then(|| self.used_bytes as f64 / usable as f64 * 100.0)
    }
}

/// statvfs(3) on `path`. Blocks.
pub fn statvfs(path: &str) -> io::Result<Usage> {
    let c_path = CString::new(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut buf = MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a NUL-terminated string and `buf` is valid for a write of one
    // `statvfs`, which the call fills entirely when it returns 0.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by the successful call above (and zeroed before it).
    let s = unsafe { buf.assume_init() };
    // The fields are u64 on 64-bit Linux but u32 on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let usage = Usage::from_blocks(
        u64::from(s.f_blocks),
        u64::from(s.f_bfree),
        u64::from(s.f_bavail),
        u64::from(s.f_frsize),
    );
    Ok(usage)
}

/// What became of one mount's statvfs.
#[derive(Debug)]
pub enum Outcome {
    /// It answered.
    Usage(Usage),
    /// It failed (permission denied, stale NFS handle, ...).
    Failed(io::Error),
    /// It did not answer before the deadline; the call goes on in the background.
    TimedOut,
    /// A call from an earlier collection has still not returned, so none was made.
    StillWaiting,
}

/// Runs statvfs calls off the async threads and remembers those still blocked.
#[derive(Debug)]
pub struct Prober {
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// The blocking call; tests swap in one that hangs.
    statvfs: fn(&str) -> io::Result<Usage>,
}

impl Default for Prober {
    fn default() -> Self {
        Prober {
            in_flight: Arc::default(),
            statvfs,
        }
    }
}

impl Prober {
    /// statvfs on every mount concurrently, waiting until `deadline` at most.
    pub async fn probe(&self, mounts: &[Mount], deadline: Instant) -> Vec<Outcome> {
        let calls: Vec<_> = mounts
            .iter()
            .map(|m| self.start(m.mount_point.clone()))
            .collect();
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut outcomes = Vec::with_capacity(calls.len());
        for call in calls {
            let outcome = match call {
                None => Outcome::StillWaiting,
                Some(handle) => match tokio::time::timeout_at(deadline, handle).await {
                    Ok(Ok(Ok(usage))) => Outcome::Usage(usage),
                    Ok(Ok(Err(e))) => Outcome::Failed(e),
                    Ok(Err(join)) => Outcome::Failed(io::Error::other(join.to_string())),
                    Err(_) => Outcome::TimedOut,
                },
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    fn start(&self, path: String) -> Option<tokio::task::JoinHandle<io::Result<Usage>>> {
        if !lock(&self.in_flight).insert(path.clone()) {
            return None;
        }
        let guard = InFlight {
            set: Arc::clone(&self.in_flight),
            path,
        };
        let statvfs = self.statvfs;
        Some(tokio::task::spawn_blocking(move || statvfs(&guard.path)))
    }
}

/// Takes its path out of the in-flight set when the blocking call ends, however it ends.
struct InFlight {
    set: Arc<Mutex<HashSet<String>>>,
    path: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.set).remove(&self.path);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
