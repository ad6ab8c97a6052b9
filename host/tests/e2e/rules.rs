//! Verdict rules from the YAML, in a real host: a rule raises the system connector's verdict
//! with its filled-in reason, `for:` waits for reports in a row, a labelled metric is judged
//! per series, the fired rules are in `dbmon reports -v` and `--json`, they travel from a
//! collector to its server, a reload changes them, and a bad condition is refused with its
//! file:line:column and its place in the expression.

use crate::{lib, metric, proto, reports_when};
use dbmon_test_support::{Host, json_lines};
use std::time::Duration;

/// A system cluster judged by two rules: one that always holds, one over the root file
/// system's series that needs two reports in a row.
fn cluster(reason: &str) -> String {
    format!(
        "clusters:\n\
         \x20 - id: box\n\
         \x20   connector: system\n\
         \x20   interval: 300ms\n\
         \x20   timeout: 200ms\n\
         \x20   jitter: 0s\n\
         \x20   rules:\n\
         \x20     - {{name: cpus, when: \"cpu_count >= 1 and status != 'unreachable'\", status: degraded, reason: \"{reason}\"}}\n\
         \x20     - {{name: root, when: \"disk_used_percent >= 0 and labels.mount == '/'\", status: unhealthy, reason: \"root at {{value}}%\", for: 2}}\n"
    )
}

fn fired(report: &proto::Report) -> Vec<(String, String)> {
    report
        .rules
        .iter()
        .map(|f| (f.rule.clone(), f.reason.clone()))
        .collect()
}

#[tokio::test]
async fn rules_raise_the_verdict_with_their_reasons_and_show_in_the_cli() {
    let host = Host::start(&cluster("{cpu_count} CPUs here"), &[lib("system")]);
    let reports = reports_when(&host, "box", 3, Duration::from_secs(15)).await;
    let first = reports.last().unwrap();
    let cpus = metric(first, "cpu_count").unwrap();
    let expected = format!("{cpus} CPUs here");
    assert_eq!(first.sequence, 1);
    assert_eq!(first.status, proto::Status::Degraded as i32, "{first:?}");
    assert_eq!(fired(first), [("cpus".to_string(), expected.clone())]);
    assert!(first.reasons.contains(&expected), "{:?}", first.reasons);
    // From the second report on, the root file system's rule has held twice in a row.
    let later = &reports[0];
    assert_eq!(later.status, proto::Status::Unhealthy as i32, "{later:?}");
    let root = later
        .metrics
        .iter()
        .find(|m| {
            m.name == "disk_used_percent"
                && m.labels.iter().any(|l| l.key == "mount" && l.value == "/")
        })
        .expect("the root file system's series");
    let said = fired(later);
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(said[1].0, "root");
    let shown: f64 = said[1]
        .1
        .trim_start_matches("root at ")
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(
        (shown - root.value).abs() < 0.01,
        "{said:?} vs {}",
        root.value
    );

    let verbose = host.cli(&["reports", "box", "-v", "--limit", "1"]);
    let text = String::from_utf8_lossy(&verbose.stdout);
    assert!(verbose.status.success(), "{verbose:?}");
    assert!(
        text.contains("rule cpus") && text.contains("rule root"),
        "{text}"
    );
    let json = json_lines(&host.cli(&["--json", "reports", "box", "--limit", "1"]));
    assert_eq!(json[0]["rules"][0]["rule"], "cpus");
    assert_eq!(json[0]["rules"][0]["status"], "degraded");
    assert_eq!(json[0]["rules"][0]["reason"], expected);

    // A reload with a changed reason: the next reports say the new one.
    let file = host.dir.path().join("dbmon.yaml");
    std::fs::write(&file, cluster("reloaded: {cpu_count}")).unwrap();
    let reloaded = host.cli(&["reload"]);
    let said = String::from_utf8_lossy(&reloaded.stdout);
    assert!(said.contains("changed box"), "{said}");
    let want = format!("reloaded: {cpus}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let latest = reports_when(&host, "box", 1, Duration::from_secs(5)).await;
        if latest[0].reasons.contains(&want) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", latest[0]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_collectors_rules_reach_its_server_with_the_report() {
    let server = Host::start_in_with(
        tempfile::tempdir().unwrap(),
        "clusters: []\n",
        &["--role", "server"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = crate::folder_with_plugins(&[(&lib("system"), "libdbmon_connector_system.so")]);
    let config = format!(
        "collector: {{id: edge, upstream: '{}'}}\n{}",
        server.url,
        cluster("{cpu_count} CPUs")
    );
    let _collector = Host::start_in_with(dir, &config, &["--role", "collector"])
        .unwrap_or_else(|e| panic!("{e}"));
    // The server knows the cluster once the collector's session opened.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !json_lines(&server.cli(&["--json", "clusters"]))
        .iter()
        .any(|c| c["id"] == "box")
    {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reports = reports_when(&server, "box", 2, Duration::from_secs(20)).await;
    let newest = &reports[0];
    assert_eq!(newest.collector, "edge");
    let names: Vec<String> = fired(newest).into_iter().map(|(rule, _)| rule).collect();
    assert_eq!(names, ["cpus", "root"], "{newest:?}");
    assert_eq!(newest.status, proto::Status::Unhealthy as i32);
}

#[tokio::test]
async fn a_bad_condition_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dbmon.yaml");
    std::fs::write(
        &file,
        "clusters:\n  - id: a\n    connector: system\n    rules:\n      - {when: \"load1 > and\", status: degraded}\n",
    )
    .unwrap();
    let output = std::process::Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--check", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors
            .contains("dbmon.yaml:5:16: 'load1 > and' does not parse: column 9 of the expression")
            && errors.contains("mismatched input 'and'"),
        "{errors}"
    );
}
