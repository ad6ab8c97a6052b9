//! Running PostgreSQL's programs for the test servers: found in `/usr/lib/postgresql/N/bin`,
//! run as the `postgres` user when the tests run as root, in folders that user owns.

use std::{
    ffi::CString,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};
use tempfile::TempDir;

/// The path of a PostgreSQL program in the newest `/usr/lib/postgresql/*/bin`.
pub fn bin(program: &str) -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs in /usr/lib/postgresql (Debian's postgresql package)")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    versions.sort();
    let (_, dir) = versions.pop().expect("a PostgreSQL version");
    dir.join("bin").join(program)
}

/// The uid and gid of `postgres` when running as root (PostgreSQL refuses to run as root).
fn owner() -> Option<(u32, u32)> {
    // SAFETY: plain libc calls; getpwnam's result is read before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let name = CString::new("postgres").unwrap();
        let pw = libc::getpwnam(name.as_ptr());
        assert!(!pw.is_null(), "running as root needs a 'postgres' user");
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

fn chown(path: &Path) {
    if let Some((uid, gid)) = owner() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
    }
}

/// A PostgreSQL program run as the servers' owner, in `dir`.
pub fn program(name: &str, dir: &Path) -> Command {
    let mut command = Command::new(bin(name));
    command.current_dir(dir).stdin(Stdio::null());
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATA",
        "PGDATABASE",
        "PGPASSWORD",
    ] {
        command.env_remove(var);
    }
    if let Some((uid, gid)) = owner() {
        command.uid(uid).gid(gid);
    }
    command
}

pub fn run(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed: {text}");
    text
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

pub fn temp_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dbmon-pg-")
        .tempdir()
        .expect("temp dir");
    chown(dir.path());
    dir
}

pub fn write_owned(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write server file");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod server file");
    chown(path);
}
