//! Real RabbitMQ nodes with the management plugin, each on free loopback ports with its own
//! node name, data, logs, configuration and Erlang cookie in a temp dir; never the machine's
//! own node (`rabbit@...` on 5672), whose configuration (`/etc/rabbitmq/rabbitmq-env.conf`)
//! is kept out by pointing `RABBITMQ_CONF_ENV_FILE` at an empty file.
//!
//! `rabbitmq-server` runs in the foreground as a child, in a process group of its own, so
//! that `Drop` kills the script and its `beam.smp` together, and waits until none is left.
//! The Debian `/usr/sbin` wrappers switch to the `rabbitmq` user and its home when run as
//! root, so the scripts they wrap are run instead (`/usr/lib/rabbitmq/bin`, or
//! `DBMON_RABBITMQ_BIN`).

use dbmon_connector_api::TlsConfig;
use dbmon_scrape::{self, Client, Method};
use dbmon_test_support::TestCa;
use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

/// The user the tests create on every node, with the `monitoring` tag only.
pub const MONITOR_USER: &str = "dbmon-monitor";
/// Its password.
pub const MONITOR_PASSWORD: &str = "monitor-Secret-42";

/// Where the server and CLI scripts are.
fn bin(tool: &str) -> PathBuf {
    let dir = std::env::var_os("DBMON_RABBITMQ_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/rabbitmq/bin"));
    dir.join(tool)
}

/// A port nothing listens on right now: bound, then released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// One RabbitMQ node.
pub struct RabbitNode {
    /// `dbmontest<pid>x<n>@localhost`.
    pub name: String,
    /// `http://127.0.0.1:PORT`: the management API.
    pub api_url: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    http: Client,
    /// Holds `dir` when the node owns it (a cluster's nodes share their parent's).
    _temp: Option<tempfile::TempDir>,
}

impl RabbitNode {
    /// Starts a node in a temp dir of its own and waits until its management API answers.
    pub async fn start() -> RabbitNode {
        let temp = tempfile::tempdir().expect("a temp dir");
        let home = temp.path().join("home");
        let mut node = RabbitNode::spawn(temp.path().join("node"), &home);
        node._temp = Some(temp);
        node.wait_ready().await;
        node
    }

    /// Starts a node whose management API listens with HTTPS only, with a certificate for
    /// `localhost` and `127.0.0.1` signed by `ca` (the API is then `https://localhost:PORT`).
    pub async fn start_tls(ca: &TestCa) -> RabbitNode {
        let temp = tempfile::tempdir().expect("a temp dir");
        let home = temp.path().join("home");
        let mut node = RabbitNode::spawn_with(temp.path().join("node"), &home, Some(ca));
        node._temp = Some(temp);
        node.wait_ready().await;
        node
    }

    /// Starts a node in `dir` whose Erlang cookie is in `home` (nodes that cluster share it).
    pub fn spawn(dir: PathBuf, home: &Path) -> RabbitNode {
        RabbitNode::spawn_with(dir, home, None)
    }

    /// [`spawn`](Self::spawn), with an HTTPS management listener when `ca` is given.
    fn spawn_with(dir: PathBuf, home: &Path, ca: Option<&TestCa>) -> RabbitNode {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("dbmontest{}x{n}@localhost", std::process::id());
        std::fs::create_dir_all(&dir).unwrap();
        write_cookie(home);
        let (amqp, api, dist) = (free_port(), free_port(), free_port());
        let file = |f: &str| dir.join(f).display().to_string();
        std::fs::write(dir.join("env.conf"), "").unwrap();
        let (listener, api_url, http) = match ca {
            None => (
                format!("management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {api}\n"),
                format!("http://127.0.0.1:{api}"),
                dbmon_scrape::client(None).unwrap(),
            ),
            Some(ca) => {
                let ca_file = ca.write(&dir);
                let server = ca.server_cert(&["localhost", "127.0.0.1"]);
                let (cert, key) = server.write(&dir, "server");
                let tls = TlsConfig {
                    ca: Some(ca_file.clone()),
                    ..TlsConfig::default()
                };
                (
                    format!(
                        "management.ssl.ip = 127.0.0.1\nmanagement.ssl.port = {api}\n\
                         management.ssl.cacertfile = {}\nmanagement.ssl.certfile = {}\n\
                         management.ssl.keyfile = {}\n",
                        ca_file.display(),
                        cert.display(),
                        key.display()
                    ),
                    format!("https://localhost:{api}"),
                    dbmon_scrape::client(Some(&tls)).unwrap(),
                )
            }
        };
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp}\n{listener}\
                 loopback_users = none\n\
                 collect_statistics_interval = 1000\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[rabbitmq_management].\n").unwrap();
        let env: Vec<(String, String)> = [
            ("HOME", home.display().to_string()),
            ("RABBITMQ_CONF_ENV_FILE", file("env.conf")),
            ("RABBITMQ_NODENAME", name.clone()),
            ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".into()),
            ("RABBITMQ_NODE_PORT", amqp.to_string()),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}".into(),
            ),
            ("RABBITMQ_MNESIA_BASE", file("mnesia")),
            ("RABBITMQ_LOG_BASE", file("log")),
            ("RABBITMQ_CONFIG_FILE", file("rabbitmq.conf")),
            ("RABBITMQ_ADVANCED_CONFIG_FILE", file("advanced.config")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", file("enabled_plugins")),
            ("RABBITMQ_PLUGINS_EXPAND_DIR", file("plugins-expand")),
            ("RABBITMQ_PID_FILE", file("rabbitmq.pid")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = Command::new(bin("rabbitmq-server"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin("rabbitmq-server").display()));
        RabbitNode {
            name,
            api_url,
            dir,
            env,
            child: Some(child),
            http,
            _temp: None,
        }
    }

    /// Waits until the management API answers (a node takes 5-20 s to start), then creates
    /// the [`MONITOR_USER`].
    pub async fn wait_ready(&mut self) {
        let give_up = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok((200, _)) = self.call(Method::GET, "/api/overview", None).await {
                break;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{} exited ({status}):\n{}", self.name, self.log());
            }
            if Instant::now() > give_up {
                panic!("{} did not answer in 90 s:\n{}", self.name, self.log());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let user = format!(r#"{{"password":"{MONITOR_PASSWORD}","tags":"monitoring"}}"#);
        self.expect(Method::PUT, &format!("/api/users/{MONITOR_USER}"), &user)
            .await;
        // Without permissions on a vhost, even a monitoring user sees none of its queues;
        // these let it do nothing over AMQP.
        let none = r#"{"configure":"^$","write":"^$","read":"^$"}"#;
        self.expect(
            Method::PUT,
            &format!("/api/permissions/%2F/{MONITOR_USER}"),
            none,
        )
        .await;
    }

    /// A management API call as `guest` (allowed from loopback): the status and body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String), dbmon_scrape::FetchError> {
        let url = format!("{}{path}", self.api_url);
        let mut request = self
            .http
            .request(method, &url)
            .basic_auth("guest", Some("guest"));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = dbmon_scrape::send(
            request,
            &url,
            deadline,
            dbmon_scrape::DEFAULT_MAX_BODY_BYTES,
        )
        .await?;
        Ok((answer.status, answer.body))
    }

    /// A call that must succeed (2xx); its body.
    pub async fn expect(&self, method: Method, path: &str, body: &str) -> String {
        let body = (!body.is_empty()).then_some(body);
        match self.call(method.clone(), path, body).await {
            Ok((status, text)) if (200..300).contains(&status) => text,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let text = self.expect(Method::GET, path, "").await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// What `/api/health/checks/alarms` answers, whatever its status (503 with alarms).
    pub async fn call_alarms(&self) -> String {
        let answer = self
            .call(Method::GET, "/api/health/checks/alarms", None)
            .await;
        answer.expect("the alarms health check answers").1
    }

    /// Declares a classic queue `name` in vhost `/`.
    pub async fn declare_queue(&self, name: &str) {
        let body = r#"{"durable":false,"auto_delete":false}"#;
        self.expect(Method::PUT, &format!("/api/queues/%2F/{name}"), body)
            .await;
    }

    /// Publishes `n` messages to queue `name` of vhost `/` through the default exchange.
    pub async fn publish(&self, name: &str, n: usize) {
        let body = format!(
            r#"{{"properties":{{}},"routing_key":"{name}","payload":"m","payload_encoding":"string"}}"#
        );
        for _ in 0..n {
            let answer = self
                .expect(
                    Method::POST,
                    "/api/exchanges/%2F/amq.default/publish",
                    &body,
                )
                .await;
            assert!(answer.contains(r#""routed":true"#), "{answer}");
        }
    }

    /// What `/api/queues/%2F/name` says once its statistics show `ready` ready messages.
    pub async fn queue_when_ready(&self, name: &str, ready: u64) -> serde_json::Value {
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let queue = self.get_json(&format!("/api/queues/%2F/{name}")).await;
            if queue["messages_ready"].as_u64() == Some(ready) {
                return queue;
            }
            if Instant::now() > give_up {
                panic!("queue {name} never showed {ready} ready: {queue:#}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `rabbitmqctl -n NODE args...` and returns its output; panics when it fails.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let output = Command::new(bin("rabbitmqctl"))
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            output.status.success(),
            "rabbitmqctl {args:?}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Stops the node with `rabbitmqctl stop` (as an operator would), then makes sure no
    /// process of it is left.
    pub fn stop(&mut self) {
        if self.child.is_some() {
            let _ = Command::new(bin("rabbitmqctl"))
                .arg("-n")
                .arg(&self.name)
                .arg("stop")
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .output();
        }
        self.kill();
    }

    /// Kills the process group (the script and `beam.smp`) and waits until it is gone.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id() as libc::pid_t;
        // beam.smp first, so that the script, still alive, reaps it and exits; a killed
        // script would leave it to init, which may not reap it at once.
        let beam = std::fs::read_to_string(self.dir.join("rabbitmq.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<libc::pid_t>().ok());
        // SAFETY: getpgid(2) and kill(2) on a pid of this node's process group only.
        if let Some(beam) = beam.filter(|&pid| unsafe { libc::getpgid(pid) } == group) {
            unsafe { libc::kill(beam, libc::SIGKILL) };
            let give_up = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // SAFETY: kill(2) on the process group this node was started in.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = child.wait();
        let give_up = Instant::now() + Duration::from_secs(10);
        // SAFETY: signal 0 only asks whether a member of the group is left.
        while unsafe { libc::kill(-group, 0) } == 0 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of the node's output, for failure messages.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes clustered together: the second joined the first.
pub struct RabbitCluster {
    /// The nodes, first the one the other joined.
    pub nodes: Vec<RabbitNode>,
    _temp: tempfile::TempDir,
}

impl RabbitCluster {
    /// Starts `n` nodes sharing a cookie, and joins every node after the first to it.
    pub async fn start(n: usize) -> RabbitCluster {
        let temp = tempfile::tempdir().expect("a temp dir");
        let home = temp.path().join("home");
        let mut nodes: Vec<RabbitNode> = (0..n)
            .map(|i| RabbitNode::spawn(temp.path().join(format!("node{i}")), &home))
            .collect();
        for node in &mut nodes {
            node.wait_ready().await;
        }
        let first = nodes[0].name.clone();
        for node in &nodes[1..] {
            node.ctl(&["stop_app"]);
            node.ctl(&["join_cluster", &first]);
            node.ctl(&["start_app"]);
        }
        let cluster = RabbitCluster { nodes, _temp: temp };
        // Every node running, as the first one sees it, and every API up again.
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            let listed = cluster.nodes[0]
                .get_json("/api/nodes?columns=name,running")
                .await;
            let running = listed
                .as_array()
                .map_or(0, |a| a.iter().filter(|n| n["running"] == true).count());
            let mut apis = 0;
            for node in &cluster.nodes {
                if let Ok((200, _)) = node.call(Method::GET, "/api/overview", None).await {
                    apis += 1;
                }
            }
            if running == n && apis == n {
                break;
            }
            if Instant::now() > give_up {
                panic!("cluster not formed in 60 s: {listed}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        cluster
    }

    /// Every node's management API URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.api_url.clone()).collect()
    }
}

/// The Erlang cookie of the nodes (and rabbitmqctl) with this `HOME`.
fn write_cookie(home: &Path) {
    let path = home.join(".erlang.cookie");
    if path.exists() {
        return;
    }
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(&path, format!("DBMONTESTCOOKIE{}", std::process::id())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
}
