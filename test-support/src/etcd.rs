//! Real etcd members on free loopback ports in a temp dir, killed (and waited for) when
//! dropped, even when the test fails: for the etcd connector's tests and the host's
//! coordination tests. Needs Debian's `etcd` (package etcd-server) on the PATH.

use std::{
    fs::File,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A port nothing listens on right now: bound, then released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// One etcd process.
pub struct Member {
    /// `--name`.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub client_url: String,
    child: Option<Child>,
    /// How it was started, to start it again on the same data dir.
    command: Vec<std::ffi::OsString>,
    log: std::path::PathBuf,
}

impl Member {
    /// Kills the process and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs (it was not stopped).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts a stopped member again on its data dir (it rejoins its cluster); returns at
    /// once, without waiting for it to be healthy.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)
            .expect("the member's log");
        let child = Command::new("etcd")
            .args(&self.command)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("etcd starts again");
        self.child = Some(child);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster of members started together.
pub struct Cluster {
    /// Its members, `{prefix}1`, `{prefix}2`, ...
    pub members: Vec<Member>,
    /// Data dirs and logs.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` members named `{prefix}1..n` with `extra` flags each, and waits until every
    /// one says it is healthy. A port taken between choosing and binding costs a retry.
    pub async fn start(prefix: &str, n: usize, extra: &[&str]) -> Cluster {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(prefix, n, extra).await {
                Ok(cluster) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!("etcd did not start: {last}");
    }

    async fn try_start(prefix: &str, n: usize, extra: &[&str]) -> Result<Cluster, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("{prefix}{}=http://127.0.0.1:{peer}", i + 1))
            .collect();
        let token = format!("dbmon-{}-{}", std::process::id(), free_port());
        let mut members = Vec::new();
        for (i, (client, peer)) in ports.iter().enumerate() {
            let name = format!("{prefix}{}", i + 1);
            let client_url = format!("http://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let log_path = dir.path().join(format!("{name}.log"));
            let log = File::create(&log_path).unwrap();
            let mut command: Vec<std::ffi::OsString> = Vec::new();
            let mut arg = |a: &dyn AsRef<std::ffi::OsStr>| command.push(a.as_ref().to_owned());
            arg(&"--name");
            arg(&name);
            arg(&"--data-dir");
            arg(&dir.path().join(&name));
            for (flag, value) in [
                ("--listen-client-urls", &client_url),
                ("--advertise-client-urls", &client_url),
                ("--listen-peer-urls", &peer_url),
                ("--initial-advertise-peer-urls", &peer_url),
                ("--initial-cluster", &initial.join(",")),
                ("--initial-cluster-token", &token),
                ("--initial-cluster-state", &"new".to_string()),
            ] {
                arg(&flag);
                arg(value);
            }
            for a in extra {
                arg(a);
            }
            let child = Command::new("etcd")
                .args(&command)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot run etcd (apt-get install etcd-server): {e}"))?;
            members.push(Member {
                name,
                client_url,
                child: Some(child),
                command,
                log: log_path,
            });
        }
        let cluster = Cluster { members, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        for m in &cluster.members {
            while !healthy(&m.client_url).await {
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} not healthy in 30 s:\n{}",
                        m.name,
                        cluster.logs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(cluster)
    }

    /// The client URLs of every member.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// The member called `name`.
    pub fn member(&mut self, name: &str) -> &mut Member {
        self.members
            .iter_mut()
            .find(|m| m.name == name)
            .expect("member")
    }

    /// Every member's log, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let path = self.dir.path().join(format!("{}.log", m.name));
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "--- {}\n{}",
                    m.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// POSTs JSON to the first running member's gateway and returns the answer's text.
    pub async fn post(&self, path: &str, body: &str, token: Option<&str>) -> String {
        let url = self
            .members
            .iter()
            .find(|m| m.child.is_some())
            .expect("a running member");
        let url = format!("{}{path}", url.client_url);
        let mut request = http().post(&url).body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let answer = dbmon_scrape::send(
            request,
            &url,
            deadline,
            dbmon_scrape::DEFAULT_MAX_BODY_BYTES,
        );
        answer.await.expect("etcd answers").body
    }

    /// The member id of `name`, in decimal as the gateway writes it.
    pub async fn member_id(&self, name: &str) -> String {
        let list: serde_json::Value =
            serde_json::from_str(&self.post("/v3/cluster/member/list", "{}", None).await).unwrap();
        let members = list["members"].as_array().expect("members");
        let member = members.iter().find(|m| m["name"] == name).expect("listed");
        member["ID"].as_str().expect("an ID string").to_string()
    }

    /// Waits until every running member says it is healthy (after a restart); panics with
    /// the logs after `within`.
    pub async fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        for m in self.members.iter().filter(|m| m.running()) {
            while !healthy(&m.client_url).await {
                if Instant::now() > deadline {
                    panic!("{} not healthy in {within:?}:\n{}", m.name, self.logs());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A plain client (rustls as the connector builds it).
fn http() -> dbmon_scrape::Client {
    dbmon_scrape::client(None).expect("an HTTP client")
}

async fn healthy(url: &str) -> bool {
    let url = format!("{url}/health");
    let deadline = Instant::now() + Duration::from_secs(2);
    dbmon_scrape::get(
        &http(),
        &url,
        deadline,
        dbmon_scrape::DEFAULT_MAX_BODY_BYTES,
    )
    .await
    .is_ok_and(|answer| answer.body.contains(r#""health":"true""#))
}
