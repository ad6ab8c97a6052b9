//! Alerts as Alertmanager meets them: the real host with `alerts:` and a `misbehave` cluster
//! whose verdict a file flips, a real Alertmanager (Debian's `prometheus-alertmanager`, on
//! the PATH) whose API then lists the alert with its labels and drops it once the cluster
//! recovers, and a webhook that fails at first (the post is retried) and then gets the same
//! alerts.

use crate::{lib, metrics::get, reports_when};
use dbmon_proto as proto;
use dbmon_test_support::{Host, HttpServer, Reply, etcd::free_port};
use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

/// An Alertmanager on a free loopback port, clustering off, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: nobody\n  group_wait: 1s\n  group_interval: 1s\n  \
             repeat_interval: 1h\nreceivers:\n  - name: nobody\n",
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager (Debian package prometheus-alertmanager)");
        Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// `GET /api/v2/alerts`: the active alerts; `None` while it does not answer.
    async fn alerts(&self) -> Option<Vec<serde_json::Value>> {
        let client = dbmon_scrape::client(None).unwrap();
        let url = format!("{}/api/v2/alerts", self.url);
        let (status, _, body) = get(&client, &url, None).await.ok()?;
        (status == 200).then(|| serde_json::from_str(&body).unwrap_or_default())
    }

    /// The active alerts once `ok` holds for them, or panics after `within`.
    async fn alerts_until(
        &self,
        host: &Host,
        within: Duration,
        ok: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let alerts = self.alerts().await;
            if let Some(alerts) = &alerts
                && ok(alerts)
            {
                return alerts.clone();
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager has {alerts:?} after {within:?}; its log:\n{}\nthe host's log:\n{}",
                self.log(),
                host.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook that answers 503 to its first `failures` posts, then 200, and keeps what it
/// got with when it got it (as [`time_of`] writes times, a second ahead).
async fn webhook(failures: usize) -> (HttpServer, Arc<Mutex<Vec<(String, serde_json::Value)>>>) {
    let server = HttpServer::start().await;
    let posts = AtomicUsize::new(0);
    let received: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let kept = Arc::clone(&received);
    server.set_handler(move |request| {
        (request.path == "/hook").then(|| {
            let body = serde_json::from_slice(&request.body).unwrap_or_default();
            kept.lock().unwrap().push((now_text(1), body));
            if posts.fetch_add(1, Ordering::SeqCst) < failures {
                Reply::text("not now").with_status(503)
            } else {
                Reply::text("ok")
            }
        })
    });
    (server, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_cluster_fires_in_alertmanager_and_resolves_when_it_recovers() {
    let alertmanager = Alertmanager::start();
    let (hook, received) = webhook(2).await;
    let flag_dir = tempfile::tempdir().unwrap();
    let flag = flag_dir.path().join("unhealthy");
    let metrics_port = free_port();
    let config = format!(
        "metrics_listen: 127.0.0.1:{metrics_port}\n\
         alerts:\n  alertmanager: ['{am}']\n  webhook: ['{hook}']\n  for: 2\n  resend: 2s\n  \
         external_url: http://dbmon.test:9464\n\
         clusters:\n  - id: flaky\n    connector: misbehave\n    interval: 500ms\n    \
         timeout: 400ms\n    jitter: 0s\n    options: {{mode: ok, unhealthy_while: '{flag}'}}\n",
        am = alertmanager.url,
        hook = hook.url("/hook"),
        flag = flag.display()
    );
    let host = Host::start(&config, &[lib("misbehave")]);
    let within = Duration::from_secs(30);
    // Healthy: nothing fires.
    reports_when(&host, "flaky", 3, within).await;
    assert!(
        alertmanager
            .alerts_until(&host, within, |_| true)
            .await
            .is_empty()
    );

    std::fs::write(&flag, "").unwrap();
    let alerts = alertmanager
        .alerts_until(&host, within, |a| !a.is_empty())
        .await;
    // By then `for` (2) unhealthy reports were stored.
    let reports = reports_when(&host, "flaky", 1, within).await;
    let unhealthy: Vec<&proto::Report> = reports
        .iter()
        .take_while(|r| r.status() == proto::Status::Unhealthy)
        .collect();
    let statuses: Vec<proto::Status> = reports.iter().map(|r| r.status()).collect();
    assert!(unhealthy.len() >= 2, "{statuses:?}");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "DbmonClusterUnhealthy");
    assert_eq!(labels["cluster"], "flaky");
    assert_eq!(labels["connector"], "misbehave");
    assert_eq!(labels["severity"], "critical");
    let description = alert["annotations"]["description"].as_str().unwrap();
    assert!(description.contains("exists"), "{description}");
    assert_eq!(
        alert["annotations"]["summary"],
        "cluster flaky is unhealthy"
    );
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(
        alert["generatorURL"],
        "http://dbmon.test:9464/cluster/flaky"
    );
    // It started with the first unhealthy report of the run.
    let first = unhealthy.last().unwrap().collected_at.unwrap();
    let started = alert["startsAt"].as_str().unwrap();
    assert!(
        started.starts_with(&time_of(first.seconds)[..19]),
        "startsAt {started}, the first unhealthy report at {first:?}"
    );

    // Recovered: resolved, gone from the active alerts.
    std::fs::remove_file(&flag).unwrap();
    alertmanager
        .alerts_until(&host, within, |a| a.is_empty())
        .await;

    // The webhook got the same alerts (the first body three times: two failures, then
    // accepted), the last one resolved: ending by the time it arrived.
    let deadline = Instant::now() + within;
    let posts = loop {
        let posts = received.lock().unwrap().clone();
        let resolved = posts.iter().any(|(arrived, body)| {
            body.as_array().into_iter().flatten().any(|a| {
                a["labels"]["alertname"] == "DbmonClusterUnhealthy"
                    && a["startsAt"] == alert["startsAt"]
                    && a["endsAt"]
                        .as_str()
                        .is_some_and(|ends| ends < arrived.as_str())
            })
        });
        if resolved {
            break posts;
        }
        assert!(Instant::now() < deadline, "webhook posts: {posts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(posts.len() >= 4, "{posts:?}");
    assert_eq!(posts[0].1, posts[1].1, "a retried post is the same body");
    assert_eq!(posts[1].1, posts[2].1, "a retried post is the same body");
    assert_eq!(posts[0].1[0]["labels"], alert["labels"]);

    // Both targets accepted the alert and its resolution (4 posts), after the webhook's two
    // failures; counted once each post's answer is read.
    let client = dbmon_scrape::client(None).unwrap();
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let count = |text: &str, result: &str| -> f64 {
        let line = format!("dbmon_alert_deliveries_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
    };
    let deadline = Instant::now() + within;
    let text = loop {
        let (_, _, text) = get(&client, &metrics_url, None).await.unwrap();
        if count(&text, "sent") >= 4.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(count(&text, "retried") >= 2.0, "{text}");
    assert_eq!(count(&text, "dropped"), 0.0, "{text}");
    assert!(text.contains("dbmon_alerts_firing 0\n"), "{text}");
}

/// RFC 3339 (UTC, to the second) of a Unix time, without a date library.
fn time_of(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `slack` seconds from now, as [`time_of`] writes it (which sorts as text the way the
/// alerts' RFC 3339 times do).
fn now_text(slack: i64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    time_of(now.as_secs() as i64 + slack)
}
