//! redis-server processes for tests: each on free loopback ports in its own temp dir, killed
//! (SIGKILL) and waited for when dropped, so that a failing test leaves nothing behind. A
//! server can be killed and started again on the same port and folder ([`Server::restart`]),
//! to test what survives with its append-only file.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A free loopback port: bound, then released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// One redis-server.
pub struct Server {
    child: Child,
    /// The port it serves on (the TLS port for a TLS server).
    pub port: u16,
    /// Its working directory (nodes.conf, log, append-only file).
    pub dir: tempfile::TempDir,
    /// Its arguments after the fixed ones, for [`Server::restart`].
    args: Vec<String>,
    ping: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    /// A plain server on a free port with these extra arguments.
    pub fn start(extra: &[&str]) -> Server {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::launch(
            &|port| {
                let mut args = vec!["--port".to_string(), port.to_string()];
                args.extend(extra.iter().cloned());
                args
            },
            true,
        )
    }

    /// A server whose ports the caller sets from the chosen `port` (`--port 0 --tls-port P`
    /// for TLS); ready once the port accepts connections, or, with `ping`, answers PING.
    pub fn launch(args: &dyn Fn(u16) -> Vec<String>, ping: bool) -> Server {
        let mut last = String::new();
        // A port found free may be taken by another test before the server binds it: retry.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let args = args(port);
            let child = spawn(&dir, &args);
            let mut server = Server {
                child,
                port,
                dir,
                args,
                ping,
            };
            match server.wait_ready(ping) {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// A plain server on a free port with an append-only file (`appendonly yes`,
    /// `appendfsync always`), as a durable shared store runs.
    pub fn start_durable() -> Server {
        Server::start(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// Kills it (SIGKILL) if it runs and starts it again on the same port, in the same folder
    /// and with the same arguments (what it kept in its append-only file comes back).
    pub fn restart(&mut self) {
        self.kill();
        let started = Instant::now();
        loop {
            self.child = spawn(&self.dir, &self.args);
            match self.wait_ready(self.ping) {
                Ok(()) => return,
                // The port may linger a moment after the kill.
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    panic!("redis-server did not start again: {e}")
                }
                Err(_) => {
                    self.kill();
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Whether it runs now (not killed, not exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_ready(&mut self, ping: bool) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                if !ping {
                    return Ok(());
                }
                // Inline command; a password-protected server answers -NOAUTH, also ready.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut answer = [0u8; 1];
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut answer).is_ok()
                    && (answer[0] == b'+' || answer[0] == b'-')
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not ready within 15 s: {}", self.log()))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL) and waits for the exit; does nothing the second time.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// A blocking connection for setting the server up; `password` for a protected one.
    pub fn conn(&self, password: Option<&str>) -> ::redis::Connection {
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        };
        let client = ::redis::Client::open(url).expect("client");
        let conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect for setup");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    /// Runs one command on it (blocking) and returns the reply as text.
    pub fn run(&self, password: Option<&str>, args: &[&str]) -> String {
        let mut cmd = ::redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let value: ::redis::Value = cmd.query(&mut self.conn(password)).expect("setup command");
        match value {
            ::redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            ::redis::Value::SimpleString(s) => s,
            ::redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    }
}

fn spawn(dir: &tempfile::TempDir, args: &[String]) -> Child {
    let log = dir.path().join("redis.log");
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--logfile")
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (Debian package redis-server)")
}

/// A six-node Redis Cluster: three masters with one replica each.
pub struct Cluster {
    /// Its servers, in the order given to `redis-cli --cluster create`.
    pub nodes: Vec<Server>,
}

/// The cluster's node timeout (ms), also its failure detection time.
pub const NODE_TIMEOUT_MS: u64 = 1000;

impl Cluster {
    /// Starts six servers in cluster mode, creates the cluster and waits until it is ok and
    /// every master has its replica online.
    pub fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// [`Cluster::start`] with these extra arguments for every node (e.g. an append-only
    /// file).
    pub fn start_with(extra: &[&str]) -> Cluster {
        let nodes: Vec<Server> = (0..6)
            .map(|_| {
                Server::launch(
                    &|port| {
                        let bus = free_port();
                        let mut args: Vec<String> = format!(
                            "--port {port} --cluster-enabled yes --cluster-config-file nodes.conf \
                         --cluster-node-timeout {NODE_TIMEOUT_MS} --cluster-port {bus}"
                        )
                        .split(' ')
                        .map(String::from)
                        .collect();
                        args.extend(extra.iter().map(|s| s.to_string()));
                        args
                    },
                    true,
                )
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        create.args(nodes.iter().map(Server::address));
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        run_bounded(&mut create, Duration::from_secs(60));
        let cluster = Cluster { nodes };
        cluster.wait_until(
            "cluster ok with every replica online",
            Duration::from_secs(60),
            |c| {
                c.nodes.iter().all(|n| {
                    let info = n.run(None, &["CLUSTER", "INFO"]);
                    info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:6")
                }) && c.masters().iter().all(|&m| {
                    c.nodes[m]
                        .run(None, &["INFO", "replication"])
                        .contains("state=online")
                })
            },
        );
        cluster
    }

    /// `redis://127.0.0.1:PORT` of every node, for a cluster client's seeds.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://{}", n.address()))
            .collect()
    }

    /// Indexes (into `nodes`) of the masters, as node 0 sees them.
    pub fn masters(&self) -> Vec<usize> {
        self.roles("master")
    }

    /// Indexes of the replicas.
    pub fn replicas(&self) -> Vec<usize> {
        self.roles("slave")
    }

    fn roles(&self, role: &str) -> Vec<usize> {
        let text = self.nodes[0].run(None, &["CLUSTER", "NODES"]);
        let mut found: Vec<usize> = text
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(2)
                    .is_some_and(|f| f.split(',').any(|x| x == role))
            })
            .filter_map(|l| {
                let port: u16 = l
                    .split(' ')
                    .nth(1)?
                    .split(['@', ':'])
                    .nth(1)?
                    .parse()
                    .ok()?;
                self.nodes.iter().position(|n| n.port == port)
            })
            .collect();
        found.sort();
        found
    }

    /// Polls `done` every 200 ms; panics after `within`.
    pub fn wait_until(&self, what: &str, within: Duration, done: impl Fn(&Cluster) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(started.elapsed() < within, "no {what} within {within:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Runs a command to its end, killing it after `limit`; panics unless it succeeds.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let file = std::fs::File::create(&out).expect("output file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start command");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(status.success(), "{cmd:?} failed ({status}): {output}");
    output
}
