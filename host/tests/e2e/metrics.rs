//! `/metrics` as Prometheus meets it: the real host with `metrics_listen:` and a cluster of the
//! `system` connector, scraped every second by a real Prometheus (Debian's `prometheus`, on
//! the PATH), whose query API then answers with the host's values; `promtool check metrics`
//! on the exposition; and the listener behind TLS and a token, scraped the same way.

use crate::{lib, metric, reports_when, serve_until_exit};
use dbmon_test_support::{Host, TestCa, etcd::free_port};
use sha2::Digest;
use std::{
    io::Write,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A Prometheus server on a free loopback port, killed when dropped.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

/// A query's instant vector: each series' labels and value.
pub type Vector = Vec<(serde_json::Value, f64)>;

impl Prometheus {
    /// Starts Prometheus with these `scrape_configs:` (YAML list items, indented by 2),
    /// scraping every second.
    pub fn start(scrape_configs: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  \
                 evaluation_interval: 1s\nscrape_configs:\n{scrape_configs}"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus (Debian package prometheus)");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The instant vector of `query`; empty while it has none (or Prometheus is not up yet).
    pub async fn query(&self, query: &str) -> Vector {
        let client = dbmon_scrape::client(None).unwrap();
        let url = format!("{}/api/v1/query?query={}", self.url, encoded(query));
        let Ok((200, _, text)) = get(&client, &url, None).await else {
            return Vec::new();
        };
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let Some(results) = json["data"]["result"].as_array() else {
            return Vec::new();
        };
        results
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap_or("NaN");
                (r["metric"].clone(), value.parse().unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// The result of `query` once `ok` holds for it, or panics with Prometheus' log after
    /// `within`.
    pub async fn query_until(
        &self,
        query: &str,
        within: Duration,
        ok: impl Fn(&Vector) -> bool,
    ) -> Vector {
        let deadline = Instant::now() + within;
        loop {
            let result = self.query(query).await;
            if ok(&result) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "{query} gave {result:?} after {within:?}; Prometheus' log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` percent-encoded for a URL's query.
pub fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// GETs `url` with `client` (and `token`): status, content type and body.
pub async fn get(
    client: &dbmon_scrape::Client,
    url: &str,
    token: Option<&str>,
) -> Result<(u16, String, String), String> {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = dbmon_scrape::send(request, url, deadline, dbmon_scrape::DEFAULT_MAX_BODY_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    Ok((answer.status, answer.content_type, answer.body))
}

/// The content type and exposition at `url` once it has `needle`, or panics after 20 s with
/// the host's log.
async fn exposition_with(
    client: &dbmon_scrape::Client,
    host: &Host,
    url: &str,
    token: Option<&str>,
    needle: &str,
) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = get(client, url, token).await;
        if let Ok((200, content_type, body)) = &got
            && body.contains(needle)
        {
            return (content_type.clone(), body.clone());
        }
        assert!(
            Instant::now() < deadline,
            "{url} gave {got:?}; the host's log:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `promtool check metrics` on `text`: what it says when it refuses it.
fn promtool_check(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (Debian package prometheus)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn label<'a>(labels: &'a serde_json::Value, key: &str) -> &'a str {
    labels[key].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_clusters_and_the_hosts_own_metrics() {
    let port = free_port();
    let config = format!(
        "metrics_listen: 127.0.0.1:{port}\nclusters:\n  - {{id: local, connector: system, \
         interval: 1s, timeout: 900ms, jitter: 0s}}\n"
    );
    let host = Host::start(&config, &[lib("system")]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = dbmon_scrape::client(None).unwrap();
    let (content_type, body) =
        exposition_with(&client, &host, &url, None, "system_memory_total_bytes{").await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    if let Err(problems) = promtool_check(&body) {
        panic!("promtool check metrics refused the exposition:\n{problems}\n{body}");
    }
    for family in [
        "# TYPE dbmon_cluster_up gauge",
        "# TYPE dbmon_cluster_status gauge",
        "# TYPE dbmon_collection_duration_seconds histogram",
        "# TYPE dbmon_collections_total counter",
        "# TYPE dbmon_build_info gauge",
        "# TYPE system_load1 gauge",
        "# TYPE system_cpu_count_value gauge",
        "# TYPE system_processes gauge",
        "# TYPE system_uptime_seconds gauge",
    ] {
        assert!(body.contains(family), "{family} missing in\n{body}");
    }
    // Node series carry the node.
    assert!(
        body.contains("system_load1{cluster=\"local\",connector=\"system\",node=\""),
        "{body}"
    );

    let prometheus = Prometheus::start(&format!(
        "  - job_name: dbmon\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    ));
    let within = Duration::from_secs(30);
    prometheus
        .query_until("up{job=\"dbmon\"}", within, |r| {
            r.iter().any(|(_, v)| *v == 1.0)
        })
        .await;
    let up = prometheus
        .query_until("dbmon_cluster_up", within, |r| !r.is_empty())
        .await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(label(&up[0].0, "cluster"), "local");
    assert_eq!(label(&up[0].0, "connector"), "system");
    assert_eq!(up[0].1, 1.0);
    let status = prometheus
        .query_until("dbmon_cluster_status == 1", within, |r| !r.is_empty())
        .await;
    assert_eq!(status.len(), 1, "{status:?}");
    let newest = &reports_when(&host, "local", 1, within).await[0];
    let verdict = newest.status().as_str_name();
    let verdict = verdict.trim_start_matches("STATUS_").to_lowercase();
    assert_eq!(label(&status[0].0, "status"), verdict);
    // A connector metric, as the host reports it.
    let memory = prometheus
        .query_until(
            "system_memory_total_bytes{cluster=\"local\",node=\"\"}",
            within,
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(
        Some(memory[0].1),
        metric(newest, "memory_total_bytes"),
        "{memory:?}"
    );
    let cpus = prometheus
        .query_until("system_cpu_count_value{cluster=\"local\"}", within, |r| {
            !r.is_empty()
        })
        .await;
    assert!(cpus.iter().all(|(_, v)| *v >= 1.0), "{cpus:?}");
    // The host's own: collections counted, their durations in the histogram.
    prometheus
        .query_until("dbmon_collections_total{cluster=\"local\"}", within, |r| {
            r.iter().any(|(_, v)| *v >= 2.0)
        })
        .await;
    prometheus
        .query_until(
            "dbmon_collection_duration_seconds_count{connector=\"system\"}",
            within,
            |r| r.iter().any(|(_, v)| *v >= 2.0),
        )
        .await;
    let info = prometheus
        .query_until("dbmon_connector_info", within, |r| !r.is_empty())
        .await;
    assert_eq!(label(&info[0].0, "connector"), "system");
}

const READER: &str = "metrics-reader-0123456789abcdef";
const PUSHER: &str = "metrics-pusher-0123456789abcdef";

fn sha256(text: &str) -> String {
    dbmon::security::certs::hex(&sha2::Sha256::digest(text.as_bytes()))
}

fn tls_client(ca: &Path) -> dbmon_scrape::Client {
    let tls = dbmon_connector_api::TlsConfig {
        ca: Some(ca.to_path_buf()),
        ..Default::default()
    };
    dbmon_scrape::client(Some(&tls)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_over_tls_need_a_token_with_the_read_role() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("dbmon test CA");
    let ca_file = ca.write(pki.path());
    let (cert, key) = ca
        .server_cert(&["localhost", "127.0.0.1"])
        .write(pki.path(), "server");
    let port = free_port();
    let config = format!(
        "metrics_listen: 127.0.0.1:{port}\ntls: {{cert: {}, key: {}}}\nauth:\n  tokens:\n    \
         - {{name: prometheus, sha256: {}, roles: [read]}}\n    \
         - {{name: pusher, sha256: {}, roles: [ingest]}}\n\
         clusters:\n  - {{id: local, connector: system, interval: 1s, timeout: 900ms}}\n",
        cert.display(),
        key.display(),
        sha256(READER),
        sha256(PUSHER)
    );
    let host = Host::start(&config, &[lib("system")]);
    let client = tls_client(&ca_file);
    let url = format!("https://localhost:{port}/metrics");
    exposition_with(&client, &host, &url, Some(READER), "dbmon_cluster_up{").await;
    let (status, _, body) = get(&client, &url, None).await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("no token"), "{body}");
    let (status, _, body) = get(&client, &url, Some("not-a-token")).await.unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = get(&client, &url, Some(PUSHER)).await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("lacks the role 'read'"), "{body}");
    // Plaintext to the TLS listener gets nothing.
    let plaintext = dbmon_scrape::client(None).unwrap();
    let plain_url = format!("http://127.0.0.1:{port}/metrics");
    let plain = get(&plaintext, &plain_url, Some(READER)).await;
    assert!(plain.is_err(), "{plain:?}");

    // Prometheus over HTTPS with the token: HTTP/1.1 (ALPN) or HTTP/2, as it likes.
    let token_file = pki.path().join("token");
    std::fs::write(&token_file, READER).unwrap();
    let prometheus = Prometheus::start(&format!(
        "  - job_name: dbmon\n    scheme: https\n    tls_config: {{ca_file: '{}', server_name: \
         localhost}}\n    authorization: {{credentials_file: '{}'}}\n    static_configs:\n      \
         - targets: ['127.0.0.1:{port}']\n",
        ca_file.display(),
        token_file.display()
    ));
    let up = prometheus
        .query_until("dbmon_cluster_up", Duration::from_secs(30), |r| {
            !r.is_empty()
        })
        .await;
    assert_eq!(up[0].1, 1.0, "{up:?}");
}

#[test]
fn an_exposed_metrics_listener_without_tls_and_auth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins.d")).unwrap();
    let port = free_port();
    let config = format!("metrics_listen: 0.0.0.0:{port}\nclusters: []\n");
    let (out, stderr) = serve_until_exit(
        dir.path(),
        "dbmon.yaml",
        &config,
        &["--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("dbmon.yaml:1:17:") && stderr.contains("not a loopback address"),
        "{stderr}"
    );
}
