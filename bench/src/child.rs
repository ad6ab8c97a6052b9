//! Other programs run by a benchmark (Prometheus, vmagent, dbmon itself: [`start_dbmon`]), each
//! in a scratch folder of its own:
//! killed when the guard is dropped, on an error or a panic as well, and by the kernel if this
//! process dies first (`PR_SET_PDEATHSIG`), so none outlives the benchmark.

use dbmon_test_support::{built_binary, built_library};
use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A folder under the system's temp dir, removed (with what is in it) when dropped.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `$TMPDIR/{prefix}-{pid}-{n}`.
    pub fn new(prefix: &str) -> std::io::Result<ScratchDir> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running program, stopped (SIGTERM, then SIGKILL after 10 s) when dropped. Its stdout and
/// stderr go to `output.log` in its folder.
pub struct Guard {
    child: Option<Child>,
    log: PathBuf,
    /// The program's folder; dropped after the program.
    pub dir: ScratchDir,
}

impl Guard {
    /// Starts `program` with `args` in `dir`. The kernel kills it when the thread that started
    /// it ends, not only the process (`PR_SET_PDEATHSIG` follows the thread): start it from the
    /// main thread, never from a tokio worker or blocking thread.
    pub fn spawn(program: &Path, args: &[String], dir: ScratchDir) -> Result<Guard, String> {
        let log = dir.path().join("output.log");
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let errors = file.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(errors);
        // SAFETY: prctl is async-signal-safe; it only asks for SIGKILL when the parent dies.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        Ok(Guard {
            child: Some(child),
            log,
            dir,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// An error with the end of the program's output when it has exited.
    pub fn check_running(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err("not running".into());
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "exited ({status}); its output ends with:\n{}",
                self.log_tail(2000)
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The last `max` bytes of the program's output.
    pub fn log_tail(&self, max: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut from = text.len().saturating_sub(max);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        text[from..].to_string()
    }

    /// The program's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, waits up to 10 s, then kills.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            dbmon_test_support::stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Raises this process's open-file limit (inherited by what it starts) to the hard limit:
/// thousands of targets need thousands of sockets on each side.
pub fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                limit = wanted;
            }
        }
    }
    limit.rlim_cur
}

/// Starts `dbmon serve` in a new scratch folder (`dbmon-BENCH-NAME`) with `config`, the
/// misbehave connector in its plugins folder, and `flags`; waits (up to `started_within`) for
/// the log line starting with `prefix` and returns what follows it.
pub fn start_dbmon(
    bench: &str,
    name: &str,
    started_within: Duration,
    config: &str,
    flags: &[&str],
    prefix: &str,
    log_level: &str,
) -> Result<(Guard, String), String> {
    let dir = ScratchDir::new(&format!("dbmon-{bench}-{name}")).map_err(|e| e.to_string())?;
    let plugins = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins).map_err(|e| e.to_string())?;
    let library = built_library("dbmon_connector_misbehave");
    std::fs::copy(&library, plugins.join(library.file_name().expect("a file")))
        .map_err(|e| e.to_string())?;
    let config_path = dir.path().join("dbmon.yaml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let mut argv: Vec<String> = vec![
        "serve".into(),
        "--config".into(),
        config_path.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--log-file".into(),
        dir.path().join("dbmon.log").display().to_string(),
        "--log-level".into(),
        log_level.into(),
    ];
    argv.extend(flags.iter().map(|f| f.to_string()));
    let mut guard = Guard::spawn(&built_binary("dbmon"), &argv, dir)?;
    let deadline = Instant::now() + started_within;
    loop {
        if let Some(line) = guard.log().lines().find(|l| l.starts_with(prefix)) {
            let rest = line[prefix.len()..].trim().to_string();
            return Ok((guard, rest));
        }
        guard.check_running().map_err(|e| format!("{name}: {e}"))?;
        if Instant::now() > deadline {
            return Err(format!("{name} did not start:\n{}", guard.log_tail(2000)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
