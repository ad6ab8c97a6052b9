//! The demo's state folder (`target/demo/` unless `--state DIR`): `lock`, held with flock(2)
//! by the running demo and naming its pid, folder and server, and `control.sock`, where
//! `cargo xtask demo fault NAME` reaches it. The kernel drops a flock when its holder dies, so
//! a lock left by a killed demo is taken over; what that demo left behind (its servers, found
//! by the `DBMON_DEMO` variable it gave them, and its folder) is removed first.

use anyhow::{Context, Result};
use std::{
    fs::File,
    io::{Read, Seek, Write},
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// The environment variable every process the demo starts inherits: its folder. It marks them,
/// so that leftovers of a killed demo can be found and no other process is touched.
pub const MARKER: &str = "DBMON_DEMO";

/// Where the state lives.
pub struct StateDir {
    /// The folder (`target/demo` unless `--state`).
    pub dir: PathBuf,
}

/// What the lock file says of the demo that holds it.
#[derive(Debug, Default)]
pub struct Holder {
    pub pid: Option<u32>,
    pub folder: Option<PathBuf>,
    pub server: Option<String>,
}

/// The held lock; released when dropped (the file is emptied, never removed: removing a
/// locked file lets two processes lock two different files of the same name).
pub struct Lock {
    file: File,
}

/// What taking the lock found.
pub enum Taken {
    /// The lock is ours; the previous holder's record, if it died without cleaning up.
    Ours(Lock, Option<Holder>),
    /// Another demo runs.
    Live(Holder),
}

impl StateDir {
    pub fn new(dir: PathBuf) -> StateDir {
        StateDir { dir }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Takes the lock without waiting.
    pub fn lock(&self) -> Result<Taken> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.lock_path();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock(2) on a descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let holder = Holder::parse(&text);
        if !locked {
            return Ok(Taken::Live(holder));
        }
        let stale = (holder.pid.is_some() || holder.folder.is_some()).then_some(holder);
        Ok(Taken::Ours(Lock { file }, stale))
    }

    /// The running demo's record, when one runs.
    pub fn live_holder(&self) -> Option<Holder> {
        let mut file = File::open(self.lock_path()).ok()?;
        // SAFETY: flock(2) on a descriptor this function owns; a shared lock we get means
        // nobody holds the exclusive one.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
        if free {
            return None;
        }
        let mut text = String::new();
        file.read_to_string(&mut text).ok()?;
        Some(Holder::parse(&text))
    }
}

impl Holder {
    fn parse(text: &str) -> Holder {
        let mut holder = Holder::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => holder.pid = v.parse().ok(),
                Some(("folder", v)) => holder.folder = Some(PathBuf::from(v)),
                Some(("server", v)) => holder.server = Some(v.to_string()),
                _ => {}
            }
        }
        holder
    }

    /// `pid 123, dbmon at http://..., folder /tmp/...`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("pid {pid}"));
        }
        if let Some(server) = &self.server {
            parts.push(format!("dbmon at {server}"));
        }
        if let Some(folder) = &self.folder {
            parts.push(format!("folder {}", folder.display()));
        }
        parts.join(", ")
    }
}

impl Lock {
    /// Writes our record (replacing what was there).
    pub fn record(&mut self, folder: &Path, server: Option<&str>) -> Result<()> {
        let mut text = format!("pid={}\nfolder={}\n", std::process::id(), folder.display());
        if let Some(server) = server {
            text.push_str(&format!("server={server}\n"));
        }
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        Ok(())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// Kills every process of the demo that used `folder` (a killed demo's servers, which outlive
/// it), then removes the folder. Returns how many processes it killed.
pub fn remove_leftovers(folder: &Path) -> usize {
    let pids = marked_processes(folder);
    for &pid in &pids {
        // SAFETY: kill(2) on a process that carries our demo's marker.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    if !pids.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let _ = std::fs::remove_dir_all(folder);
    pids.len()
}

/// The processes of the demo that used `folder`: those whose environment carries
/// `MARKER=folder`, and those working inside it (redis-server overwrites its environment with
/// its process title, but works in its `--dir`).
pub fn marked_processes(folder: &Path) -> Vec<u32> {
    let wanted = format!("{MARKER}={}", folder.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id())
        .filter(|pid| {
            let marked = std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == wanted.as_bytes()));
            marked
                || std::fs::read_link(format!("/proc/{pid}/cwd"))
                    .is_ok_and(|cwd| cwd.starts_with(folder))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_holder_and_a_released_one_is_taken_without_a_stale_record() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let Taken::Ours(mut lock, stale) = state.lock().unwrap() else {
            panic!("a fresh folder's lock is free");
        };
        assert!(stale.is_none());
        lock.record(Path::new("/tmp/dbmon-demo-x"), Some("http://127.0.0.1:1"))
            .unwrap();
        let Taken::Live(holder) = state.lock().unwrap() else {
            panic!("the lock is held");
        };
        assert_eq!(holder.pid, Some(std::process::id()));
        assert_eq!(
            holder.describe(),
            format!(
                "pid {}, dbmon at http://127.0.0.1:1, folder /tmp/dbmon-demo-x",
                std::process::id()
            )
        );
        assert!(state.live_holder().is_some());
        drop(lock);
        assert!(state.live_holder().is_none());
        let Taken::Ours(_, stale) = state.lock().unwrap() else {
            panic!("a released lock is free");
        };
        assert!(stale.is_none(), "a clean exit leaves no record");
    }

    #[test]
    fn a_dead_holders_record_is_handed_to_the_next_demo() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().to_path_buf());
        // What a killed demo leaves: its record, and no flock (the kernel dropped it).
        std::fs::write(dir.path().join("lock"), "pid=999999\nfolder=/tmp/gone\n").unwrap();
        let Taken::Ours(_, Some(stale)) = state.lock().unwrap() else {
            panic!("the stale record is handed over");
        };
        assert_eq!(stale.pid, Some(999999));
        assert_eq!(stale.folder, Some(PathBuf::from("/tmp/gone")));
    }
}
