//! MariaDB servers of the test's own: `mariadb-install-db` into a temp folder, `mariadbd`
//! started on a free loopback port with its own socket, pid file and log there (and no option
//! file read), and replicas set up with GTIDs. Each server is killed and waited for when
//! dropped, even when the test fails, and its folder removed. The machine's server on 3306 is
//! never touched.

use mysql_async::{Conn, OptsBuilder, prelude::Queryable};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tempfile::TempDir;

/// The replication user made on every server.
pub const REPL_USER: &str = "repl";
/// Its password.
pub const REPL_PASSWORD: &str = "repl-pw-7c1d";
/// A user that must log in with a password, made on every server.
pub const PASSWORD_USER: &str = "monitor";
/// Its password.
pub const PASSWORD: &str = "right-horse-battery";

/// How long a server may take to accept connections.
const START_WITHIN: Duration = Duration::from_secs(60);

/// One running server.
pub struct MariaDb {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    /// Its `server_id`.
    pub server_id: u32,
    dir: TempDir,
}

impl MariaDb {
    /// A new server with the binary log on (so that it can be a source) and these extra
    /// `mariadbd` arguments.
    pub async fn start(server_id: u32, extra: &[&str]) -> MariaDb {
        let mut dir = tempfile::Builder::new()
            .prefix("dbmon-mysql-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        // Its own temp folder: bootstraps in one /tmp at once clash on their temp tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("server temp folder");
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(as_root())
            .stdin(Stdio::null());
        run(install, "mariadb-install-db");
        let mut last_log = String::new();
        // A free port may be taken by someone else before the server binds it: try again.
        for _ in 0..3 {
            let port = free_port();
            let child = spawn(dir.path(), port, server_id, extra);
            let mut server = MariaDb {
                child: Some(child),
                port,
                server_id,
                dir,
            };
            match server.wait_ready().await {
                Ok(()) => {
                    server.setup().await;
                    return server;
                }
                Err(Failed::Exited(log)) => {
                    last_log = log;
                    server.kill();
                    dir = std::mem::replace(&mut server.dir, TempDir::new().unwrap());
                }
                Err(Failed::NotReady(log)) => panic!("mariadbd did not start: {log}"),
            }
        }
        panic!("mariadbd did not start: {last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A direct connection as root, over the server's socket (which a server that requires
    /// TLS over TCP accepts as it is).
    pub async fn conn(&self) -> Conn {
        Conn::new(self.socket_opts())
            .await
            .unwrap_or_else(|e| panic!("connect to {}'s socket: {e}", self.endpoint()))
    }

    fn socket_opts(&self) -> OptsBuilder {
        let socket = self.dir.path().join("sock");
        OptsBuilder::default()
            .socket(Some(socket.to_string_lossy().into_owned()))
            .user(Some("root"))
    }

    /// Runs statements as root.
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.conn().await;
        conn.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {}: {e}", self.endpoint()));
        let _ = conn.disconnect().await;
    }

    /// The first column of the first row of `sql`.
    pub async fn value(&self, sql: &str) -> Option<String> {
        let mut conn = self.conn().await;
        let value: Option<Option<String>> = conn
            .query_first(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {}: {e}", self.endpoint()));
        let _ = conn.disconnect().await;
        value.flatten()
    }

    /// Makes this server replicate from `source` with GTIDs (`MASTER_USE_GTID=slave_pos`),
    /// retrying the connection every second, with `extra` more `CHANGE MASTER` settings.
    pub async fn replicate_from(&self, source: &MariaDb, extra: &str) {
        self.exec(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{REPL_USER}', \
             MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, \
             MASTER_CONNECT_RETRY=1{extra}; START SLAVE",
            source.port
        ))
        .await;
    }

    /// Makes this server replicate from `source` too, over the named connection `name`
    /// (MariaDB's multi-source replication; each source writes its own GTID domain).
    pub async fn replicate_as(&self, name: &str, source: &MariaDb) {
        self.exec(&format!(
            "CHANGE MASTER '{name}' TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, \
             MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', \
             MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE '{name}'",
            source.port
        ))
        .await;
    }

    /// Waits until this replica has applied everything `source` has written: each GTID of
    /// the source's binary log position is in the replica's `gtid_slave_pos`.
    pub async fn wait_caught_up(&self, source: &MariaDb) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let written = source.value("SELECT @@gtid_binlog_pos").await;
            let applied = self.value("SELECT @@gtid_slave_pos").await;
            let has = |gtid: &str| {
                applied
                    .as_deref()
                    .is_some_and(|a| a.split(',').any(|g| g.trim() == gtid))
            };
            let written_list = written.as_deref().unwrap_or_default();
            if written_list.split(',').filter(|g| !g.is_empty()).all(has) {
                return;
            }
            assert!(
                Instant::now() < until,
                "replica {} stuck at {applied:?}, source at {written:?}:\n{}",
                self.endpoint(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's error log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Kills the server (SIGKILL: a crash, as far as its clients and replicas can tell).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops (`SIGSTOP`) or continues (`SIGCONT`) the server's process: a server that keeps
    /// its connections open and stops answering on them.
    pub fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("a running server");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    }

    /// Kills the server and starts it again on the same port and data: a crash and restart.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(self.dir.path(), self.port, self.server_id, &[]));
        if let Err(Failed::Exited(log) | Failed::NotReady(log)) = self.wait_ready().await {
            panic!("mariadbd did not start again: {log}");
        }
    }

    async fn wait_ready(&mut self) -> Result<(), Failed> {
        let until = Instant::now() + START_WITHIN;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(Failed::Exited(format!(
                    "exited with {status}:\n{}",
                    self.log()
                )));
            }
            let connecting = Conn::new(self.socket_opts());
            if let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(2), connecting).await {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            if Instant::now() > until {
                let log = format!("not ready in {START_WITHIN:?}:\n{}", self.log());
                return Err(Failed::NotReady(log));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The users every test server has, made without writing to the binary log (so that a
    /// replica does not receive them twice).
    async fn setup(&self) {
        self.exec(&format!(
            "SET sql_log_bin = 0; \
             CREATE USER '{REPL_USER}'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}'; \
             GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'127.0.0.1'; \
             CREATE USER '{PASSWORD_USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT PROCESS, SLAVE MONITOR ON *.* TO '{PASSWORD_USER}'@'127.0.0.1'; \
             SET sql_log_bin = 1"
        ))
        .await;
    }
}

/// Why a server did not start.
enum Failed {
    /// It exited (another process took its port, or a bad option): worth another try.
    Exited(String),
    /// It runs, but does not take connections.
    NotReady(String),
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path, port: u16, server_id: u32, extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join("stdout.log")).expect("server stdout");
    Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--log-error={}", dir.join("error.log").display()))
        .arg(format!("--port={port}"))
        .arg(format!("--server-id={server_id}"))
        .args([
            "--bind-address=127.0.0.1",
            "--log-bin=mysql-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=8M",
        ])
        .args(as_root())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start /usr/sbin/mariadbd")
}

/// `--user=root` when the tests run as root: mariadbd refuses to run as root without it.
fn as_root() -> Vec<&'static str> {
    // SAFETY: geteuid has no preconditions.
    match unsafe { libc::geteuid() } {
        0 => vec!["--user=root"],
        _ => vec![],
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
