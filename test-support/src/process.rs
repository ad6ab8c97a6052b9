//! Stopping a child process politely, then for sure.

use std::{
    process::{Child, ExitStatus},
    time::{Duration, Instant},
};

/// Sends `signal` to `child`, waits up to `grace` for it to exit, then kills it; returns the
/// exit status.
pub fn stop_child(child: &mut Child, signal: libc::c_int, grace: Duration) -> Option<ExitStatus> {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().ok()
}
