//! PostgreSQL servers of a test's (or the demo's) own: `initdb` into a temp folder, started on
//! a free loopback port, and a streaming replica made with `pg_basebackup`. Each is stopped
//! (immediate shutdown) and its folder removed when dropped, even when the test fails. The
//! programs are found in the newest `/usr/lib/postgresql/N/bin` (Debian's postgresql
//! package); run as root, the servers run as the `postgres` user, which owns their folders.

use std::{
    ffi::CString,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;

/// The newest `/usr/lib/postgresql/N/bin` that has the server, `initdb` and `pg_basebackup`;
/// `None` when PostgreSQL is not installed (Debian's package `postgresql`).
pub fn installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| {
            ["postgres", "initdb", "pg_basebackup", "pg_isready", "psql"]
                .iter()
                .all(|p| bin.join(p).exists())
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The path of a PostgreSQL program in the newest `/usr/lib/postgresql/*/bin`.
pub fn bin(program: &str) -> PathBuf {
    installed()
        .expect("PostgreSQL's programs in /usr/lib/postgresql/N/bin (Debian's package postgresql)")
        .join(program)
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
fn program(name: &str, dir: &Path) -> Command {
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

fn run(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed: {text}");
    text
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

fn temp_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dbmon-pg-")
        .tempdir()
        .expect("temp dir");
    chown(dir.path());
    dir
}

fn write_owned(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write server file");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod server file");
    chown(path);
}

/// The user tests log in as on servers they start (trust authentication).
pub const SUPERUSER: &str = "postgres";
/// A role that must log in with a password (scram-sha-256) on servers the tests start.
pub const PASSWORD_USER: &str = "pwuser";
/// Its password.
pub const PASSWORD: &str = "right-horse-battery";
/// A role that logs in with a client certificate (CN = its name) on a TLS server.
pub const CERT_USER: &str = "certuser";

/// What a TLS server presents and trusts.
pub struct ServerTls<'a> {
    /// PEM certificate of the CA that signs client certificates.
    pub ca_pem: &'a str,
    /// PEM certificate the server presents.
    pub cert_pem: &'a str,
    /// Its PEM key.
    pub key_pem: &'a str,
}

/// One running server.
pub struct PgServer {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    /// Its `cluster_name`: a replica's `application_name` on its primary.
    pub name: String,
    dir: TempDir,
    /// `-c` settings beside the fixed ones, kept for [`PgServer::restart`].
    settings: Vec<(String, String)>,
}

impl PgServer {
    /// A new primary: trust on loopback, except [`PASSWORD_USER`] (scram-sha-256).
    pub fn primary(name: &str) -> PgServer {
        Self::initdb(name, None)
    }

    /// A new primary that accepts only TLS connections; [`CERT_USER`] logs in with a client
    /// certificate, everyone else by trust.
    pub fn primary_tls(name: &str, tls: &ServerTls<'_>) -> PgServer {
        Self::initdb(name, Some(tls))
    }

    fn initdb(name: &str, tls: Option<&ServerTls<'_>>) -> PgServer {
        let dir = temp_dir();
        let data = dir.path().join("data");
        let mut initdb = program("initdb", dir.path());
        initdb.arg("-D").arg(&data);
        initdb.args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-N",
            "--no-locale",
            "-E",
            "UTF8",
        ]);
        run(initdb, "initdb");
        let (host, settings, cert_line) = match tls {
            None => ("host", vec![("ssl", "off")], String::new()),
            Some(tls) => {
                write_owned(&data.join("server.crt"), tls.cert_pem);
                write_owned(&data.join("server.key"), tls.key_pem);
                write_owned(&data.join("root.crt"), tls.ca_pem);
                let line = format!("hostssl all {CERT_USER} 127.0.0.1/32 cert\n");
                (
                    "hostssl",
                    vec![("ssl", "on"), ("ssl_ca_file", "root.crt")],
                    line,
                )
            }
        };
        let hba = format!(
            "local all all trust\nlocal replication all trust\n\
             {host} all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n\
             {cert_line}\
             {host} all all 127.0.0.1/32 trust\n{host} replication all 127.0.0.1/32 trust\n"
        );
        write_owned(&data.join("pg_hba.conf"), &hba);
        let server = Self::start(dir, name, &settings);
        server.psql(&format!(
            "CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE {CERT_USER} LOGIN"
        ));
        server
    }

    /// A streaming replica of `primary`, made with `pg_basebackup -R -X stream`; its
    /// `application_name` on the primary is `name`.
    pub fn replica_of(primary: &PgServer, name: &str) -> PgServer {
        let dir = temp_dir();
        let mut backup = program("pg_basebackup", dir.path());
        backup.args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            SUPERUSER,
        ]);
        backup.arg("-D").arg(dir.path().join("data"));
        backup.args(["-R", "-X", "stream", "-c", "fast", "-N"]);
        run(backup, "pg_basebackup");
        Self::start(dir, name, &[("ssl", "off")])
    }

    /// Starts the server of `dir/data` on a free port, retrying when another process took it.
    fn start(mut dir: TempDir, name: &str, settings: &[(&str, &str)]) -> PgServer {
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut last_log = String::new();
        for _ in 0..3 {
            let mut server = PgServer {
                child: None,
                port: free_port(),
                name: name.to_string(),
                dir,
                settings: settings.clone(),
            };
            server.spawn();
            match server.wait_ready() {
                Ok(()) => return server,
                Err(log) => {
                    last_log = log;
                    server.stop();
                    dir = std::mem::replace(&mut server.dir, temp_dir());
                }
            }
        }
        panic!("postgres {name} did not start; its log:\n{last_log}");
    }

    /// Runs the server of `dir/data` on `self.port`, its log appended to `postgres.log`.
    fn spawn(&mut self) {
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("postgres.log"))
            .expect("log file");
        let mut command = program("postgres", dir);
        command.arg("-D").arg(dir.join("data"));
        command.arg("-p").arg(self.port.to_string());
        command.arg("-k").arg(dir);
        let fixed = [
            ("listen_addresses", "127.0.0.1"),
            ("cluster_name", &self.name),
            ("fsync", "off"),
            ("max_connections", "20"),
            ("shared_buffers", "16MB"),
            ("wal_level", "replica"),
            ("max_wal_senders", "5"),
            ("logging_collector", "off"),
        ];
        let settings = self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (key, value) in fixed.into_iter().chain(settings) {
            command.arg("-c").arg(format!("{key}={value}"));
        }
        command.stdout(Stdio::null()).stderr(log);
        self.child = Some(command.spawn().expect("start postgres"));
    }

    /// Starts a stopped server again on its port and folder (a replica resumes streaming from
    /// its primary), and waits until it accepts connections; does nothing if it runs.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            return;
        }
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            self.spawn();
            match self.wait_ready() {
                Ok(()) => return,
                // The port may linger a moment after an immediate shutdown.
                Err(log) if Instant::now() > until => {
                    panic!(
                        "postgres {} did not start again; its log:\n{log}",
                        self.name
                    )
                }
                Err(_) => {
                    self.stop();
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Whether it runs (it was not stopped).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() {
                return Err(self.log());
            }
            let ready = Command::new(bin("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(self.log())
    }

    /// Waits until this primary lists `replica` in `pg_stat_replication` as streaming, with a
    /// replay position reported.
    pub fn wait_streaming(&self, replica: &str) {
        let until = Instant::now() + Duration::from_secs(60);
        let sql = format!(
            "SELECT count(*) FROM pg_stat_replication \
             WHERE application_name = '{replica}' AND state = 'streaming' \
               AND replay_lsn IS NOT NULL"
        );
        while self.psql(&sql) != "1" {
            assert!(
                Instant::now() < until,
                "{replica} never streamed:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs SQL with psql as the superuser over the Unix socket; returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let mut psql = program("psql", self.dir.path());
        psql.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
        ]);
        psql.arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string()]);
        psql.args(["-c", sql]);
        run(psql, &format!("psql on {}: {sql}", self.name))
            .trim()
            .to_string()
    }

    /// Immediate shutdown, as a crash would: no goodbye to replicas. Idempotent.
    pub fn stop(&mut self) {
        // SIGQUIT is PostgreSQL's immediate shutdown.
        if let Some(mut child) = self.child.take() {
            crate::stop_child(&mut child, libc::SIGQUIT, Duration::from_secs(10));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
