//! Real nats-server processes on free loopback ports in a temp dir, killed (and waited for)
//! when dropped, even when the test fails. Never the machine's own NATS on 4222: every port,
//! client, monitoring and route, is a free one, and the servers listen on 127.0.0.1 only.

use async_nats::jetstream::{self, consumer::pull, stream};
use dbmon_connector_api::TlsConfig;
use serde_json::Value;
use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Debian's nats-server (package nats-server), else the one on the PATH.
fn binary() -> &'static str {
    if Path::new("/usr/sbin/nats-server").exists() {
        "/usr/sbin/nats-server"
    } else {
        "nats-server"
    }
}

/// A port nothing listens on right now: bound, then released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// One nats-server process.
pub struct Server {
    /// `-n`.
    pub name: String,
    /// `http://127.0.0.1:PORT`, its monitoring endpoint.
    pub monitor_url: String,
    /// `nats://127.0.0.1:PORT`, for clients.
    pub client_url: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Kills the process (SIGKILL: a crash, no goodbye to its routes) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The tail of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- {}\n{}", self.name, tail.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How to start the servers of a [`Cluster`].
#[derive(Clone, Default)]
pub struct Setup {
    /// Servers; more than one form a cluster (full mesh of configured routes).
    pub servers: usize,
    /// `-js`.
    pub jetstream: bool,
    /// Extra lines of each server's configuration file (`max_pending: 65536`).
    pub config: String,
    /// The monitoring endpoint on `https:` with this certificate instead of `http:`.
    pub https: Option<Https>,
}

/// An `https:` monitoring endpoint: the server's `tls` block (which clients get too).
#[derive(Clone)]
pub struct Https {
    /// The server's certificate and key files.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA of the server's certificate.
    pub ca: PathBuf,
}

/// Servers started together; killed when dropped.
pub struct Cluster {
    /// `{prefix}1`, `{prefix}2`, ...
    pub servers: Vec<Server>,
    /// Store dirs, configs and logs.
    pub dir: tempfile::TempDir,
    /// What the test reaches the monitoring endpoints with.
    monitor: dbmon_scrape::Client,
}

impl Cluster {
    /// Starts a cluster of three JetStream servers `{prefix}1..3` and waits until each is
    /// healthy, routed to the others and knows a meta leader.
    pub async fn three(prefix: &str) -> Cluster {
        let setup = Setup {
            servers: 3,
            jetstream: true,
            ..Setup::default()
        };
        Cluster::start(prefix, setup).await
    }

    /// Starts the servers of `setup` and waits until they are ready. A port taken between
    /// choosing and binding costs a retry.
    pub async fn start(prefix: &str, setup: Setup) -> Cluster {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(prefix, &setup).await {
                Ok(cluster) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!("nats-server did not start: {last}");
    }

    async fn try_start(prefix: &str, setup: &Setup) -> Result<Cluster, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let n = setup.servers;
        let ports: Vec<[u16; 3]> = (0..n)
            .map(|_| [free_port(), free_port(), free_port()])
            .collect();
        let mut servers = Vec::new();
        for (i, [client, monitor, route]) in ports.iter().enumerate() {
            let name = format!("{prefix}{}", i + 1);
            let (scheme, listen) = match &setup.https {
                Some(_) => ("https", "https"),
                None => ("http", "http"),
            };
            let mut config = format!(
                "server_name: {name}\nhost: 127.0.0.1\nport: {client}\n{listen}: \"127.0.0.1:{monitor}\"\n{}\n",
                setup.config
            );
            if let Some(https) = &setup.https {
                config.push_str(&format!(
                    "tls {{ cert_file: {:?}\n key_file: {:?} }}\n",
                    https.cert, https.key
                ));
            }
            if setup.jetstream {
                let store = dir.path().join(&name);
                config.push_str(&format!("jetstream {{ store_dir: {:?} }}\n", store));
            }
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, [_, _, r])| format!("\"nats://127.0.0.1:{r}\""))
                    .collect();
                config.push_str(&format!(
                    "cluster {{ name: {prefix}c\n listen: \"127.0.0.1:{route}\"\n routes: [{}] }}\n",
                    routes.join(", ")
                ));
            }
            let config_path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
            let log = dir.path().join(format!("{name}.log"));
            let out = File::create(&log).map_err(|e| e.to_string())?;
            let child = Command::new(binary())
                .arg("-c")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .map_err(|e| {
                    format!("cannot run nats-server (apt-get install nats-server): {e}")
                })?;
            servers.push(Server {
                name,
                monitor_url: format!("{scheme}://127.0.0.1:{monitor}"),
                client_url: format!("nats://127.0.0.1:{client}"),
                child: Some(child),
                log,
            });
        }
        let tls = setup.https.as_ref().map(|https| TlsConfig {
            ca: Some(https.ca.clone()),
            ..TlsConfig::default()
        });
        let monitor = dbmon_scrape::client(tls.as_ref()).map_err(|e| e.to_string())?;
        let cluster = Cluster {
            servers,
            dir,
            monitor,
        };
        cluster.wait_ready(setup).await?;
        Ok(cluster)
    }

    async fn wait_ready(&self, setup: &Setup) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for server in &self.servers {
            loop {
                let ready = async {
                    let get = |path| get_json_with(&self.monitor, &server.monitor_url, path);
                    let health = get("/healthz").await.ok()?;
                    let varz = get("/varz").await.ok()?;
                    let routed = varz["routes"].as_u64()? + 1 >= setup.servers as u64;
                    let leader = match setup.jetstream && setup.servers > 1 {
                        true => {
                            let jsz = get("/jsz").await.ok()?;
                            jsz["meta_cluster"]["leader"]
                                .as_str()
                                .is_some_and(|l| !l.is_empty())
                        }
                        false => true,
                    };
                    Some(health["status"] == "ok" && routed && leader)
                };
                if ready.await == Some(true) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} not ready in 30 s:\n{}",
                        server.name,
                        self.logs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The monitoring URLs of every server.
    pub fn endpoints(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.monitor_url.clone()).collect()
    }

    /// The server called `name`.
    pub fn server(&mut self, name: &str) -> &mut Server {
        self.servers
            .iter_mut()
            .find(|s| s.name == name)
            .expect("server")
    }

    /// Every server's log tail, for failure messages.
    pub fn logs(&self) -> String {
        let logs: Vec<String> = self.servers.iter().map(Server::log_tail).collect();
        logs.join("\n")
    }
}

/// GETs `base` + `path` as JSON, straight from the server.
pub async fn get_json(base: &str, path: &str) -> Result<Value, String> {
    let client = dbmon_scrape::client(None).map_err(|e| e.to_string())?;
    get_json_with(&client, base, path).await
}

async fn get_json_with(
    client: &dbmon_scrape::Client,
    base: &str,
    path: &str,
) -> Result<Value, String> {
    let url = format!("{base}{path}");
    let deadline = Instant::now() + Duration::from_secs(2);
    let answer = dbmon_scrape::get(client, &url, deadline, dbmon_scrape::DEFAULT_MAX_BODY_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let text = answer.body;
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

/// A stream `ORDERS` (three replicas, or one on a single server) with `published` messages
/// and a durable pull consumer `audit` that fetched nothing; the client stays connected to
/// the first server while it lives.
pub async fn orders(
    cluster: &Cluster,
    published: u64,
) -> (
    async_nats::Client,
    jetstream::consumer::Consumer<pull::Config>,
) {
    let client = async_nats::connect(&cluster.servers[0].client_url)
        .await
        .expect("connect to the first server");
    let js = jetstream::new(client.clone());
    let replicas = cluster.servers.len().min(3);
    let stream = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    for i in 0..published {
        js.publish(format!("orders.{i}"), format!("order {i}").into())
            .await
            .expect("publish")
            .await
            .expect("the stream acknowledges");
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("audit".into()),
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .expect("create the consumer");
    (client, consumer)
}
