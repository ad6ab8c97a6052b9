//! PostgreSQL servers of the test's own: `initdb` into a temp folder, started on a free
//! loopback port, and a streaming replica made with `pg_basebackup`. Each is stopped
//! (immediate shutdown) and its folder removed when dropped, even when the test fails.
//! Run as root, the servers run as the `postgres` user, which owns their folders.

use super::programs::{bin, free_port, program, run, temp_dir, write_owned};
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;

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
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log file");
            let mut command = program("postgres", dir.path());
            command.arg("-D").arg(dir.path().join("data"));
            command.arg("-p").arg(port.to_string());
            command.arg("-k").arg(dir.path());
            let fixed = [
                ("listen_addresses", "127.0.0.1"),
                ("cluster_name", name),
                ("fsync", "off"),
                ("max_connections", "20"),
                ("shared_buffers", "16MB"),
                ("wal_level", "replica"),
                ("max_wal_senders", "5"),
                ("logging_collector", "off"),
            ];
            for (key, value) in fixed.iter().chain(settings) {
                command.arg("-c").arg(format!("{key}={value}"));
            }
            command.stdout(Stdio::null()).stderr(log);
            let child = command.spawn().expect("start postgres");
            let mut server = PgServer {
                child: Some(child),
                port,
                name: name.to_string(),
                dir,
            };
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
            dbmon_test_support::stop_child(&mut child, libc::SIGQUIT, Duration::from_secs(10));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
