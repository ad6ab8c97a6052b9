use crate::lib;
use std::{
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Runs `dbmon serve` on `config` with these plugins and expects it to refuse and exit.
fn refused(config: &str, plugins: &[PathBuf]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let plugins_dir = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins_dir).unwrap();
    for p in plugins {
        std::fs::copy(p, plugins_dir.join(p.file_name().unwrap())).unwrap();
    }
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, config).unwrap();
    let mut child = Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dbmon accepted a bad config:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    (
        output,
        stderr.replace(&format!("{}/", dir.path().display()), ""),
    )
}

#[test]
fn yaml_that_does_not_parse_names_file_line_and_column() {
    let (_, err) = refused(
        "clusters:\n  - id: a\n    connector: system\n   bad indent: [\n",
        &[],
    );
    assert!(err.contains("bad.yaml:4:"), "{err}");
}

#[test]
fn unknown_connectors_list_the_loaded_ones() {
    let config = "clusters:\n  - id: a\n    connector: sytsem\n";
    let (_, err) = refused(config, &[lib("system"), lib("misbehave")]);
    assert!(
        err.contains(
            "bad.yaml:3:16: unknown connector 'sytsem'; loaded connectors: misbehave, system"
        ),
        "{err}"
    );
}

#[test]
fn duplicate_ids_and_bad_durations_are_named() {
    let config = "clusters:\n  - {id: a, connector: system}\n  - {id: a, connector: system}\n  - {id: b, connector: system, interval: 10 parsecs}\n";
    let (_, err) = refused(config, &[lib("system")]);
    assert!(
        err.contains("bad.yaml:3:10: duplicate cluster id 'a' (first defined at line 2)"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:4:42: invalid duration '10 parsecs'"),
        "{err}"
    );
}

#[test]
fn connector_option_errors_point_at_the_option() {
    let config = "clusters:\n  - id: box\n    connector: system\n    options:\n      disk_used_degraded_percent: 150\n";
    let (_, err) = refused(config, &[lib("system")]);
    assert!(
        err.contains("bad.yaml:5:35: connector 'system' refused cluster 'box'"),
        "{err}"
    );
    assert!(err.contains("disk_used_degraded_percent"), "{err}");
    let config = "clusters:\n  - id: p\n    connector: prometheus\n    options: {url: 'ftp://x'}\n";
    let (_, err) = refused(config, &[lib("prometheus")]);
    assert!(err.contains("bad.yaml:4:20: connector 'prometheus' refused cluster 'p': options.url: 'ftp://x' is not an http"), "{err}");
    let config = "clusters:\n  - id: p\n    connector: prometheus\n    options: {url: 'http://x', colour: red}\n";
    let (_, err) = refused(config, &[lib("prometheus")]);
    assert!(err.contains("unknown field `colour`"), "{err}");
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let output = Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--config", "/nonexistent/dbmon.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/dbmon.yaml:1:1: cannot read the config file"),
        "{err}"
    );
}
