use crate::lib;
use std::{
    path::PathBuf,
    process::{Command, Output},
};

/// Runs `dbmon serve` on `config` with these plugins and expects it to refuse and exit.
fn refused(config: &str, plugins: &[PathBuf]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let plugins_dir = dir.path().join("plugins.d");
    std::fs::create_dir(&plugins_dir).unwrap();
    for p in plugins {
        std::fs::copy(p, plugins_dir.join(p.file_name().unwrap())).unwrap();
    }
    let (output, stderr) =
        crate::serve_until_exit(dir.path(), "bad.yaml", config, &["--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    (output, stderr)
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

/// Runs `dbmon serve --check` on `config` with `env` set and expects it to refuse; returns
/// stderr with the folder removed from paths.
fn check_refuses(config: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, config).unwrap();
    let output = Command::new(dbmon_test_support::built_binary("dbmon"))
        .args(["serve", "--check", "--config"])
        .arg(&file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{config}\n{stderr}");
    stderr.replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn a_duplicate_key_is_named_where_it_is() {
    let config = "listen: 127.0.0.1:4000\nclusters:\n  - id: a\n    connector: system\n    endpoints: [x]\n    endpoints: [y]\nlisten: 127.0.0.1:4001\n";
    let err = check_refuses(config, &[]);
    assert!(
        err.contains("bad.yaml:6:5: clusters[0]: duplicate key 'endpoints' (first at line 5)"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:7:1: duplicate key 'listen' (first at line 1)"),
        "{err}"
    );
}

#[test]
fn unknown_fields_and_bad_values_everywhere_are_all_reported() {
    let config = "store: {history: -5}\nclusters:\n  - id: a\n    connectr: system\n  - id: b\n    connector: system\n    intervall: 5s\n  - id: c\n    connector: system\n    timeout: -5s\n";
    let err = check_refuses(config, &[]);
    for expected in [
        "bad.yaml:1:18: store.history: expected a whole number of reports (1 or more); got -5",
        "bad.yaml:4:5: clusters[0]: unknown field `connectr` (did you mean `connector`?",
        "bad.yaml:7:5: clusters[1]: unknown field `intervall` (did you mean `interval`?",
        "bad.yaml:10:14: invalid duration '-5s' (clusters[2].timeout): durations are positive, like 500ms, 10s, 1m30s",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in:\n{err}");
    }
    assert_eq!(err.lines().count(), 5, "{err}");
}

#[test]
fn parser_errors_say_what_to_fix() {
    let cases = [
        (
            "clusters:\n  - id: a\n    connector: system: x\n",
            "bad.yaml:3:22: clusters[0].connector: mapping values are not allowed here: a value containing ': ' must be quoted, or a key is indented wrongly",
        ),
        (
            "clusters:\n  - id: 'a\n    connector: system\n",
            "bad.yaml:2:9: clusters[0].id: unclosed quote (opened at 2:9)",
        ),
        (
            "- id: a\n  connector: system\n",
            "bad.yaml:1:1: the file must be a mapping of settings (listen:, clusters:, ...); got a list",
        ),
    ];
    for (config, expected) in cases {
        let err = check_refuses(config, &[]);
        assert!(err.contains(expected), "{expected}\nnot in:\n{err}");
    }
}

#[test]
fn an_empty_file_is_refused_with_an_example() {
    let err = check_refuses("# nothing yet\n", &[]);
    assert!(
        err.contains("bad.yaml:1:1: the file is empty: add the clusters to monitor, for example `clusters: [{id: local, connector: system}]`"),
        "{err}"
    );
}

#[test]
fn an_empty_env_secret_is_refused_naming_the_variable() {
    let config = "clusters:\n  - id: a\n    connector: system\n    auth: {username: '${env:DBMON_E2E_USER}', password: '${env:DBMON_E2E_PASSWORD}'}\n";
    let env = [("DBMON_E2E_USER", "monitor"), ("DBMON_E2E_PASSWORD", "")];
    let err = check_refuses(config, &env);
    assert!(
        err.contains("bad.yaml:4:57: environment variable DBMON_E2E_PASSWORD is set but empty"),
        "{err}"
    );
}
