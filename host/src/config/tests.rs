use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("/etc/dbmon/dbmon.yaml"), text)
}

fn only_error(text: &str) -> String {
    let errors = parse(text).expect_err("config should be refused").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].to_string()
}

#[test]
fn defaults_apply() {
    let c = parse("clusters:\n  - id: a\n    connector: system\n").unwrap();
    assert_eq!(c.listen, DEFAULT_LISTEN);
    assert_eq!(c.plugins_dir, Path::new("/etc/dbmon/plugins.d"));
    assert_eq!(c.history, 100);
    assert_eq!(c.clusters[0].interval, DEFAULT_INTERVAL);
    assert_eq!(c.clusters[0].timeout, DEFAULT_TIMEOUT);
}

#[test]
fn cluster_schedule_overrides_defaults() {
    let text = "defaults: {interval: 30s, timeout: 3s}\nclusters:\n  - id: a\n    connector: x\n    interval: 2s\n    timeout: 1500ms\n  - id: b\n    connector: x\n";
    let c = parse(text).unwrap();
    assert_eq!(c.clusters[0].interval, Duration::from_secs(2));
    assert_eq!(c.clusters[0].timeout, Duration::from_millis(1500));
    assert_eq!(c.clusters[1].interval, Duration::from_secs(30));
    assert_eq!(c.clusters[1].timeout, Duration::from_secs(3));
}

#[test]
fn short_interval_caps_the_default_timeout() {
    let c = parse("clusters:\n  - id: a\n    connector: x\n    interval: 1s\n").unwrap();
    assert_eq!(c.clusters[0].timeout, Duration::from_secs(1));
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let e = only_error("clusters:\n  - id: a\n    connector: [unclosed\n");
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:"), "{e}");
    let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line >= 3, "{e}");
}

#[test]
fn bad_duration_is_named_where_it_is() {
    let e = only_error("clusters:\n  - id: a\n    connector: x\n    interval: soon\n");
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:4:"), "{e}");
    assert!(e.contains("invalid duration 'soon'"), "{e}");
}

#[test]
fn unknown_field_is_refused() {
    let e = only_error("clusters:\n  - id: a\n    connectr: x\n");
    assert!(e.contains("unknown field `connectr`"), "{e}");
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:3:"), "{e}");
}

#[test]
fn duplicate_ids_point_at_the_second_one() {
    let e = only_error("clusters:\n  - id: a\n    connector: x\n  - id: a\n    connector: y\n");
    assert_eq!(
        e,
        "/etc/dbmon/dbmon.yaml:4:9: duplicate cluster id 'a' (first defined at line 2)"
    );
}

#[test]
fn timeout_longer_than_interval_is_refused() {
    let e =
        only_error("clusters:\n  - id: a\n    connector: x\n    interval: 1s\n    timeout: 2s\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:5:14: timeout 2s is longer"),
        "{e}"
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let text = "listen: nowhere\nclusters:\n  - id: 'bad id'\n    connector: x\n  - id: ok\n    connector: x\n    auth: {password: '${env:DBMON_SURELY_UNSET_VAR}'}\n";
    let errors = parse(text).unwrap_err().0;
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{text:?}");
    assert!(text[0].contains(":1:9: listen: 'nowhere'"), "{text:?}");
    assert!(text[1].contains(":3:9: cluster id 'bad id'"), "{text:?}");
    assert!(
        text[2].contains(":7:22: environment variable DBMON_SURELY_UNSET_VAR"),
        "{text:?}"
    );
}

#[test]
fn connector_json_carries_options_and_secrets() {
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("DBMON_TEST_PW_JSON", "hunter2") };
    let text = "clusters:\n  - id: a\n    connector: x\n    endpoints: [http://h:1]\n    auth: {username: u, password: '${env:DBMON_TEST_PW_JSON}'}\n    options: {url: http://x}\n";
    let c = parse(text).unwrap();
    let json: serde_json::Value = serde_json::from_str(&c.clusters[0].connector_json()).unwrap();
    assert_eq!(json["options"]["url"], "http://x");
    assert_eq!(json["auth"]["password"], "hunter2");
    assert_eq!(json["endpoints"][0], "http://h:1");
    assert!(!format!("{:?}", c.clusters[0]).contains("hunter2"));
}

#[test]
fn isolation_comes_from_the_cluster_then_the_connector() {
    let text = "connectors:\n  fragile: {isolation: process}\nclusters:\n  - {id: a, connector: fragile}\n  - {id: b, connector: fragile, isolation: in_process}\n  - {id: c, connector: other}\n  - {id: d, connector: other, isolation: process}\n";
    let c = parse(text).unwrap();
    let got: Vec<Isolation> = c.clusters.iter().map(|c| c.isolation).collect();
    assert_eq!(
        got,
        [
            Isolation::Process,
            Isolation::InProcess,
            Isolation::InProcess,
            Isolation::Process
        ]
    );
    let e = only_error("clusters:\n  - {id: a, connector: x, isolation: thread}\n");
    assert!(e.contains("unknown variant `thread`"), "{e}");
}
