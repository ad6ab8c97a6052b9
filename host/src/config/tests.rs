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
    assert!(e.contains("did you mean `connector`?"), "{e}");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:3:5: clusters[0]:"),
        "{e}"
    );
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
    assert!(
        e.ends_with(
            ":2:38: clusters[0].isolation: expected one of in_process, process; got thread"
        ),
        "{e}"
    );
}

fn all_errors(text: &str) -> Vec<String> {
    let errors = parse(text).expect_err("config should be refused").0;
    errors.iter().map(ToString::to_string).collect()
}

/// `text`'s errors are exactly these, in order, each containing its expected text.
fn assert_errors(text: &str, expected: &[&str]) {
    let errors = all_errors(text);
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, expected) in errors.iter().zip(expected) {
        assert!(
            error.contains(expected),
            "{error} should contain {expected}"
        );
    }
}

// Item 8: a duplicate key is reported where it is, naming the line of the first.

#[test]
fn a_duplicate_top_level_key_is_reported_at_itself() {
    let text =
        "listen: 127.0.0.1:4000\nclusters:\n  - {id: a, connector: x}\nlisten: 127.0.0.1:4001\n";
    assert_eq!(
        only_error(text),
        "/etc/dbmon/dbmon.yaml:4:1: duplicate key 'listen' (first at line 1): keep one of them"
    );
}

#[test]
fn a_duplicate_key_inside_a_cluster_is_reported_at_itself() {
    let text = "clusters:\n  - id: a\n    connector: x\n    interval: 1s\n  - id: b\n    connector: x\n    interval: 1s\n    interval: 2s\n";
    assert_eq!(
        only_error(text),
        "/etc/dbmon/dbmon.yaml:8:5: clusters[1]: duplicate key 'interval' (first at line 7): \
         keep one of them"
    );
}

// Item 10: every error that one pass can find.

#[test]
fn unknown_fields_in_several_clusters_are_all_reported() {
    let text = "clusters:\n  - id: a\n    connector: x\n    intervall: 1s\n  - id: b\n    connector: x\n  - id: c\n    connector: x\n    endpoint: [h]\n    colour: red\n";
    let errors = all_errors(text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0]
            .contains(":4:5: clusters[0]: unknown field `intervall` (did you mean `interval`?"),
        "{errors:#?}"
    );
    assert!(
        errors[1]
            .contains(":9:5: clusters[2]: unknown field `endpoint` (did you mean `endpoints`?"),
        "{errors:#?}"
    );
    assert!(
        errors[2].contains(":10:5: clusters[2]: unknown field `colour` (expected one of:"),
        "{errors:#?}"
    );
}

#[test]
fn type_errors_in_several_sections_and_clusters_are_all_reported() {
    let text = "plugins:\n  insecure: maybe\nstore:\n  history: lots\nclusters:\n  - id: a\n    connector: x\n    endpoints: http://h\n  - id: b\n    connector: [x]\n  - id: c\n    connector: x\n    interval: soon\n";
    assert_errors(
        text,
        &[
            ":2:13: plugins.insecure: expected true or false; got maybe",
            ":4:12: store.history: expected a whole number of reports (1 or more); got lots",
            ":8:16: clusters[0].endpoints: expected a list; got http://h",
            ":10:16: clusters[1].connector: expected text; got a list",
            ":13:15: invalid duration 'soon' (clusters[2].interval): ",
        ],
    );
}

#[test]
fn a_bad_default_is_reported_once_not_per_cluster() {
    let text = "defaults: {interval: soon}\nclusters:\n  - {id: a, connector: x}\n  - {id: b, connector: x}\n";
    let e = only_error(text);
    assert!(
        e.contains(":1:22: invalid duration 'soon' (defaults.interval): "),
        "{e}"
    );
}

#[test]
fn a_partial_config_keeps_the_valid_clusters() {
    let text = "store: {history: 0}\nclusters:\n  - {id: good, connector: x}\n  - {id: bad, connector: x, colour: red}\n  - {id: 'bad id', connector: x}\n";
    let (config, errors) = Config::parse_partial(Path::new("/etc/dbmon/dbmon.yaml"), text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let ids: Vec<&str> = config.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["good"]);
    assert_eq!(config.history, model::DEFAULT_HISTORY);
    assert_eq!(config.clusters[0].index, 0);
    assert_eq!(config.error_at("clusters[0].id", "x").position.line, 3);
}

// Item 11: what was expected in words, with the path and a hint, at the place to fix.

#[test]
fn a_value_with_a_colon_gets_advice() {
    let e = only_error("clusters:\n  - id: a\n    connector: x: y\n");
    assert_eq!(
        e,
        "/etc/dbmon/dbmon.yaml:3:17: clusters[0].connector: mapping values are not allowed \
         here: a value containing ': ' must be quoted, or a key is indented wrongly"
    );
}

#[test]
fn an_unclosed_quote_is_reported_where_it_opens() {
    let e = only_error("listen: 127.0.0.1:4000\nclusters:\n  - id: 'abc\n    connector: x\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:3:9: clusters[0].id: unclosed quote (opened at 3:9)"),
        "{e}"
    );
    let e = only_error("clusters:\n  - id: a\n    connector: \"system\n");
    assert!(
        e.starts_with(
            "/etc/dbmon/dbmon.yaml:3:16: clusters[0].connector: unclosed quote (opened at 3:16)"
        ),
        "{e}"
    );
}

#[test]
fn an_unclosed_bracket_is_reported_where_it_opens() {
    let e =
        only_error("clusters:\n  - id: a\n    endpoints: [http://a, http://b\n    connector: x\n");
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:3:16: "), "{e}");
    assert!(e.contains("'[' is not closed"), "{e}");
}

#[test]
fn a_badly_indented_line_is_reported_at_its_start() {
    let e = only_error("clusters:\n  - id: a\n    connector: system\n   bad indent: x\n");
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:4:4: "), "{e}");
    assert!(e.contains("does not fit"), "{e}");
}

#[test]
fn a_negative_history_says_what_is_expected() {
    let e = only_error("store:\n  history: -5\nclusters: []\n");
    assert_eq!(
        e,
        "/etc/dbmon/dbmon.yaml:2:12: store.history: expected a whole number of reports \
         (1 or more); got -5"
    );
    let e = only_error("store: {history: 0}\nclusters: []\n");
    assert!(
        e.ends_with(":1:18: store.history: expected a whole number of reports (1 or more); got 0"),
        "{e}"
    );
}

#[test]
fn a_file_that_is_a_list_says_what_the_file_must_be() {
    let e = only_error("- id: a\n  connector: x\n");
    assert_eq!(
        e,
        "/etc/dbmon/dbmon.yaml:1:1: the file must be a mapping of settings (listen:, \
         clusters:, ...); got a list"
    );
}

#[test]
fn a_negative_duration_says_durations_are_positive() {
    let e = only_error("clusters:\n  - id: a\n    connector: x\n    interval: -5s\n");
    assert_eq!(
        e,
        "/etc/dbmon/dbmon.yaml:4:15: invalid duration '-5s' (clusters[0].interval): durations \
         are positive, like 500ms, 10s, 1m30s"
    );
    let e = only_error("clusters:\n  - {id: a, connector: x, timeout: 10 parsecs}\n");
    assert!(
        e.contains("invalid duration '10 parsecs' (clusters[0].timeout): unknown unit 'parsecs'"),
        "{e}"
    );
    let e = only_error("clusters:\n  - {id: a, connector: x, timeout: 10}\n");
    assert!(
        e.contains("invalid duration '10' (clusters[0].timeout): a number needs a unit"),
        "{e}"
    );
}

#[test]
fn a_second_document_is_refused() {
    let e = only_error("clusters: []\n---\nlisten: 127.0.0.1:1\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:2:1: a second YAML document"),
        "{e}"
    );
}

#[test]
fn a_secret_never_shows_in_a_syntax_error() {
    let text = "clusters:\n  - id: a\n    connector: x\n    auth: {password: 'hunter2}\n";
    let e = all_errors(text).join("\n");
    assert!(!e.contains("hunter2"), "{e}");
    assert!(
        e.contains(":4:22: clusters[0].auth.password: unclosed quote"),
        "{e}"
    );
}

// Item 12: an empty file and empty secrets are refused.

#[test]
fn an_empty_file_is_refused_with_an_example() {
    for text in ["", "\n\n", "# only a comment\n", "---\n", "~\n"] {
        let e = only_error(text);
        assert!(
            e.starts_with("/etc/dbmon/dbmon.yaml:1:1: the file is empty"),
            "{text:?}: {e}"
        );
        assert!(
            e.contains("clusters: [{id: local, connector: system}]"),
            "{e}"
        );
    }
    // Saying there are no clusters is not a mistake.
    assert!(parse("clusters: []\n").unwrap().clusters.is_empty());
}

#[test]
fn an_empty_env_secret_is_refused_naming_the_variable() {
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("DBMON_TEST_EMPTY_PW", "") };
    let text = "clusters:\n  - id: a\n    connector: x\n    auth: {username: u, password: '${env:DBMON_TEST_EMPTY_PW}'}\n";
    let e = only_error(text);
    assert!(
        e.starts_with(
            "/etc/dbmon/dbmon.yaml:4:35: environment variable DBMON_TEST_EMPTY_PW is set but empty"
        ),
        "{e}"
    );
}

#[test]
fn an_empty_password_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    std::fs::write(dir.path().join("blank.txt"), "\nsecond\n").unwrap();
    for (name, what) in [
        ("empty.txt", "is empty"),
        ("blank.txt", "has an empty first line"),
    ] {
        let text = format!(
            "clusters:\n  - id: a\n    connector: x\n    auth: {{password_file: {name}}}\n"
        );
        let errors = Config::parse(&dir.path().join("dbmon.yaml"), &text)
            .unwrap_err()
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors[0].to_string();
        assert!(
            e.contains(&format!(":4:27: {}", dir.path().join(name).display())),
            "{e}"
        );
        assert!(e.contains(what), "{e}");
        assert!(!e.contains("second"), "{e}");
    }
}

#[test]
fn every_bad_field_of_one_cluster_is_reported() {
    let text = "clusters:\n  - id: a\n    connector: [x]\n    endpoints: [{}]\n    tls: {ca: [x], insecure_skip_verify: yes}\n    isolation: thread\n";
    // Leaving the bad `connector` out to read on does not add "`connector:` is missing".
    assert_errors(
        text,
        &[
            ":3:16: clusters[0].connector: expected text; got a list",
            ":4:17: clusters[0].endpoints[0]: expected text; got a mapping",
            ":5:15: clusters[0].tls.ca: expected a file path; got a list",
            ":5:42: clusters[0].tls.insecure_skip_verify: expected true or false; got yes",
            ":6:16: clusters[0].isolation: expected one of in_process, process; got thread",
        ],
    );
}

#[test]
fn api_limits_have_defaults_and_are_checked() {
    let config = parse("clusters: [{id: a, connector: c}]\n").unwrap();
    assert_eq!(config.api.max_message_bytes, 4 << 20);
    assert_eq!(config.api.max_streams_per_connection, 100);
    assert_eq!(config.api.shutdown_grace, Duration::from_secs(5));
    let config = parse(
        "api: {max_watchers: 3, shutdown_grace: 500ms, max_message_bytes: 1024}\nclusters: [{id: a, connector: c}]\n",
    )
    .unwrap();
    assert_eq!(config.api.max_watchers, 3);
    assert_eq!(config.api.max_message_bytes, 1024);
    assert_eq!(config.api.shutdown_grace, Duration::from_millis(500));
    let errors = all_errors(
        "api:\n  max_watchers: 0\n  max_streams_per_connection: -1\nclusters: [{id: a, connector: c}]\n",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("2:17") && e.contains("watchers (1 or more)")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("3:31") && e.contains("streams (1 or more)")),
        "{errors:?}"
    );
}

#[test]
fn the_readme_configuration_is_a_valid_file() {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let block = &section[start..start + section[start..].find("```").expect("its end")];
    assert!(block.contains("api:"), "{block}");
    let errors: Vec<String> = match parse(block) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    };
    // The example's password comes from the environment, which tests do not set.
    let other: Vec<&String> = errors
        .iter()
        .filter(|e| !e.contains("CRDB_PASSWORD"))
        .collect();
    assert!(other.is_empty(), "{other:?}");
}

#[test]
fn deep_nesting_and_alias_bombs_are_refused_not_followed() {
    let deep = format!("clusters:\n{}x\n", "- ".repeat(100_000));
    let errors = parse(&deep).expect_err("too deep").to_string();
    assert!(errors.contains("nest deeper than 64"), "{errors}");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let prev = if i == 1 {
            "a".to_string()
        } else {
            format!("a{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let errors = parse(&bomb).expect_err("an alias bomb").to_string();
    assert!(errors.contains("more than 1000000 values"), "{errors}");
}

#[test]
fn a_url_in_the_wrong_place_never_shows_its_password() {
    let text = "clusters:\n  - id: a\n    connector: postgres\n    endpoints: postgres://monitor:hunter2@db1/app\n";
    let errors = parse(text)
        .expect_err("endpoints must be a list")
        .to_string();
    assert!(!errors.contains("hunter2"), "{errors}");
    assert!(
        errors.contains("postgres://<credentials>@db1/app"),
        "{errors}"
    );
    let text = "clusters:\n  - id: a\n    connector: x\n    auth: hunter2\n";
    let errors = parse(text).expect_err("auth must be a mapping").to_string();
    assert!(!errors.contains("hunter2"), "{errors}");
}

#[test]
fn durations_beyond_a_year_are_refused() {
    let errors = parse("api: {shutdown_grace: 500000000000y}\nclusters: [{id: a, connector: c}]\n")
        .expect_err("too long")
        .to_string();
    assert!(errors.contains("at most 365d"), "{errors}");
}

const CLUSTERS: &str = "clusters: [{id: a, connector: c}]\n";

#[test]
fn client_auth_without_client_ca_is_refused_where_it_is() {
    let text = format!("tls:\n  cert: s.pem\n  key: k.pem\n  client_auth: required\n{CLUSTERS}");
    let e = only_error(&text);
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:4:16: "), "{e}");
    assert!(e.contains("tls.client_auth needs tls.client_ca"), "{e}");
}

#[test]
fn a_missing_certificate_file_is_named_with_the_os_error() {
    let e = only_error(&format!(
        "tls: {{cert: nowhere.pem, key: k.pem}}\n{CLUSTERS}"
    ));
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:1:13: "), "{e}");
    assert!(
        e.contains("cannot read /etc/dbmon/nowhere.pem: No such file"),
        "{e}"
    );
}

#[test]
fn a_certificate_file_without_pem_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let text = format!(
        "tls:\n  cert: {}\n  key: {}\n{CLUSTERS}",
        cert.display(),
        cert.display()
    );
    let e = only_error(&text);
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:2:9: "), "{e}");
    assert!(e.contains("no PEM certificate found"), "{e}");
}

#[test]
fn tls_paths_are_relative_to_the_config_file_and_client_auth_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dbmon.yaml");
    let text = format!("tls: {{cert: s.pem, key: k.pem, client_ca: ca.pem}}\n{CLUSTERS}");
    let (config, errors) = Config::parse_partial(&file, &text);
    assert_eq!(errors.len(), 1, "the files do not exist: {errors:?}");
    let tls = config.tls.expect("tls settings");
    assert_eq!(tls.cert, dir.path().join("s.pem"));
    assert_eq!(tls.client_ca, Some(dir.path().join("ca.pem")));
    assert_eq!(tls.client_auth, ClientAuth::Required);
}

#[test]
fn token_entries_are_checked_each_where_it_is() {
    let digest = "ab".repeat(32);
    let text = format!(
        "auth:\n  tokens:\n    - {{name: ci, sha256: {digest}, roles: [read]}}\n    - {{name: ci, sha256: 12ab, roles: [read]}}\n{CLUSTERS}"
    );
    let errors = parse(&text).expect_err("bad tokens").0;
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{texts:?}");
    assert!(
        texts[0].starts_with("/etc/dbmon/dbmon.yaml:4:14: duplicate token name 'ci'"),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with("/etc/dbmon/dbmon.yaml:4:26: '12ab' is not a SHA-256 digest"),
        "{texts:?}"
    );
}

#[test]
fn an_unknown_role_is_refused_with_the_known_ones() {
    let digest = "ab".repeat(32);
    let text = format!(
        "auth:\n  tokens:\n    - {{name: ci, sha256: {digest}, roles: [root]}}\n{CLUSTERS}"
    );
    let e = only_error(&text);
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:3:"), "{e}");
    assert!(e.contains("one of read, command, ingest, admin"), "{e}");
}

#[test]
fn certificates_without_a_client_ca_are_refused() {
    let text = format!("auth:\n  certificates: [{{subject: ops, roles: [read]}}]\n{CLUSTERS}");
    let e = only_error(&text);
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:2:17: "), "{e}");
    assert!(e.contains("needs tls.client_ca"), "{e}");
}

#[test]
fn valid_tokens_resolve_to_digests_and_roles() {
    let digest = "0f".repeat(32);
    let text = format!(
        "auth: {{tokens: [{{name: ci, sha256: {digest}, roles: [read, ingest]}}]}}\n{CLUSTERS}"
    );
    let auth = parse(&text).unwrap().auth.expect("auth settings");
    assert_eq!(auth.tokens[0].sha256, [0x0f; 32]);
    assert!(auth.tokens[0].roles.allow(Role::Ingest));
    assert!(!auth.tokens[0].roles.allow(Role::Command));
}

#[test]
fn the_file_store_defaults_to_data_beside_the_config_and_takes_a_retention() {
    let c = parse("store: { kind: file, retention: 7d }\n").unwrap();
    assert_eq!(c.store_kind, StoreKind::File);
    let path = c.store_path.unwrap();
    assert_eq!(path.file_name().unwrap(), "data");
    assert_eq!(path.parent(), c.file.parent());
    assert_eq!(c.retention, Some(std::time::Duration::from_secs(7 * 86400)));
    let memory = parse("clusters: []\n").unwrap();
    assert_eq!(memory.store_kind, StoreKind::Memory);
    assert!(memory.store_path.is_none());
}

#[test]
fn a_store_path_without_the_file_store_is_named_where_it_is() {
    let e = only_error("store:\n  kind: memory\n  path: somewhere\n");
    assert!(e.contains(":3:") && e.contains("store.path"), "{e}");
}

#[test]
fn the_collector_block_is_resolved_and_its_errors_are_named_where_they_are() {
    let config = parse(
        "collector:\n  id: edge-1\n  upstream: https://server:4000\n  ca: pki/ca.crt\n  token_file: c1.token\nclusters: []\n",
    )
    .unwrap();
    let c = &config.collector;
    assert_eq!(c.id.as_deref(), Some("edge-1"));
    assert_eq!(
        c.upstream.as_deref(),
        Some(&["https://server:4000".to_string()][..])
    );
    assert_eq!(c.ca.as_deref(), Some(Path::new("/etc/dbmon/pki/ca.crt")));
    assert_eq!(
        c.token_file.as_deref(),
        Some(Path::new("/etc/dbmon/c1.token"))
    );
    assert_eq!(c.buffer_bytes, 64 << 20);
    let error = only_error("collector:\n  upstream: https://s:4000\n  buffer: 10\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:3:3:") && error.contains("buffer"),
        "{error}"
    );
    let list =
        parse("collector:\n  upstream: [https://a:4000, https://b:4000]\nclusters: []\n").unwrap();
    assert_eq!(list.collector.upstream.unwrap().len(), 2);
    let error = only_error("collector:\n  upstream: []\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:13:") && error.contains("server URL"),
        "{error}"
    );
    let error = only_error("collector:\n  buffer_bytes: 0\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:17:") && error.contains("1 or more"),
        "{error}"
    );
}

#[test]
fn coordination_is_resolved_with_weights_and_pins() {
    let text = "coordination:\n  kind: etcd\n  endpoints: [http://127.0.0.1:2379/, https://etcd-2:2379]\n  lease_ttl: 6s\n  prefix: /dbmon/edge/\ncollector:\n  id: c1\n  weight: 3\nclusters:\n  - id: a\n    connector: system\n    collector: c1\n  - id: b\n    connector: system\n";
    let c = parse(text).unwrap();
    let co = c.coordination.as_ref().expect("coordination");
    assert_eq!(
        co.endpoints,
        ["http://127.0.0.1:2379", "https://etcd-2:2379"]
    );
    assert_eq!(co.lease_ttl, Duration::from_secs(6));
    assert_eq!(co.prefix, "/dbmon/edge");
    assert_eq!(c.collector.weight, 3);
    assert_eq!(c.clusters[0].collector.as_deref(), Some("c1"));
    assert_eq!(c.clusters[1].collector, None);
    let defaults =
        parse("coordination: {kind: etcd, endpoints: [http://e:2379]}\nclusters: []\n").unwrap();
    let co = defaults.coordination.unwrap();
    assert_eq!(
        (co.lease_ttl, co.prefix.as_str()),
        (Duration::from_secs(10), "/dbmon")
    );
    assert_eq!(defaults.collector.weight, 1);
    assert!(parse("clusters: []\n").unwrap().coordination.is_none());
}

#[test]
fn coordination_errors_are_named_where_they_are() {
    let e = only_error(
        "coordination:\n  kind: zookeeper\n  endpoints: [http://e:2379]\nclusters: []\n",
    );
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:2:"), "{e}");
    let e = only_error("coordination:\n  kind: etcd\n  endpoints: [e:2379]\nclusters: []\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:3:") && e.contains("not an etcd client URL"),
        "{e}"
    );
    let e = only_error("coordination:\n  kind: etcd\n  endpoints: []\nclusters: []\n");
    assert!(e.contains("at least one etcd client URL"), "{e}");
    let e = only_error(
        "coordination:\n  kind: etcd\n  endpoints: [http://e:2379]\n  lease_ttl: 1500ms\nclusters: []\n",
    );
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:4:") && e.contains("at least 2s"),
        "{e}"
    );
    let e = only_error(
        "coordination:\n  kind: etcd\n  endpoints: [http://e:2379]\n  auth: {username: u, password: \"${env:DBMON_TEST_SURELY_UNSET_ETCD}\"}\nclusters: []\n",
    );
    assert!(
        e.contains("coordination.auth") || e.contains("DBMON_TEST_SURELY_UNSET_ETCD"),
        "{e}"
    );
    let e = only_error("collector:\n  weight: 0\nclusters: []\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:2:") && e.contains("1 to 10000"),
        "{e}"
    );
    let e = only_error("clusters:\n  - id: a\n    connector: system\n    collector: c1\n");
    assert!(
        e.starts_with("/etc/dbmon/dbmon.yaml:4:") && e.contains("coordination:"),
        "{e}"
    );
}

#[test]
fn coordination_password_is_never_in_debug() {
    let text = "coordination:\n  kind: etcd\n  endpoints: [http://e:2379]\n  auth: {username: u, password: hunter2-secret}\nclusters: []\n";
    let c = parse(text).unwrap();
    let debug = format!("{:?}", c.coordination);
    assert!(!debug.contains("hunter2-secret"), "{debug}");
}

#[test]
fn the_shared_store_takes_a_redis_url_with_tls_and_auth_from_the_environment() {
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var("DBMON_TEST_REDIS_STORE_PW", "pw-123") };
    let c = parse(
        "store:\n  kind: redis\n  url: rediss://r1:6380\n  cluster: true\n  history: 50\n  \
         tls: {ca: ca.pem}\n  auth: {password: '${env:DBMON_TEST_REDIS_STORE_PW}'}\n",
    )
    .unwrap();
    assert_eq!(c.store_kind, StoreKind::Redis);
    assert_eq!(c.history, 50);
    assert!(c.store_path.is_none());
    let shared = c.shared_store.unwrap();
    assert_eq!(shared.url, "rediss://r1:6380");
    assert!(shared.cluster);
    assert!(shared.tls.unwrap().ca.unwrap().ends_with("ca.pem"));
    let debug = format!("{:?}", shared.auth);
    assert!(!debug.contains("pw-123"), "{debug}");
    assert_eq!(shared.auth.unwrap().password.as_deref(), Some("pw-123"));
    let plain = parse("store: {kind: redis, url: 'redis://127.0.0.1:6390/2'}\n").unwrap();
    assert!(!plain.shared_store.unwrap().cluster);
}

#[test]
fn shared_store_mistakes_are_named_where_they_are() {
    let e = only_error("store:\n  kind: redis\n");
    assert!(e.contains(":2:3:") && e.contains("store.url"), "{e}");
    let e = only_error("store:\n  kind: redis\n  url: http://x:1\n");
    assert!(e.contains(":3:") && e.contains("not a Redis URL"), "{e}");
    let e = only_error("store:\n  kind: redis\n  url: 'redis://x:port'\n");
    assert!(e.contains(":3:") && e.contains("not a Redis URL"), "{e}");
    let e = only_error("store:\n  kind: file\n  url: redis://x:1\n");
    assert!(
        e.contains(":3:") && e.contains("store.url is for the shared store"),
        "{e}"
    );
    let e = only_error("store:\n  kind: redis\n  url: redis://x:1\n  tls: {}\n");
    assert!(e.contains(":4:") && e.contains("rediss://"), "{e}");
    let e = only_error("store:\n  kind: redis\n  url: redis://x:1\n  path: data\n");
    assert!(e.contains(":4:") && e.contains("store.path"), "{e}");
    let e = only_error(
        "store:\n  kind: redis\n  url: redis://x:1\n  auth:\n    password_file: /nonexistent/pw\n",
    );
    assert!(
        e.contains(":5:20:") && e.contains("cannot read /nonexistent/pw"),
        "{e}"
    );
    let e = only_error("store:\n  kind: redis\n  url: redis://x:1\n  auth: {username: u}\n");
    assert!(e.contains("store.auth needs a password"), "{e}");
}

#[test]
fn metrics_listen_is_opt_in_and_checked_where_it_is() {
    let c = parse("clusters: []\n").unwrap();
    assert_eq!(c.metrics_listen, None);
    let c = parse("metrics_listen: 127.0.0.1:9464\nclusters: []\n").unwrap();
    assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
    let error = only_error("clusters: []\nmetrics_listen: localhost\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:17:") && error.contains("127.0.0.1:9464"),
        "{error}"
    );
}

#[test]
fn alerts_are_resolved_with_their_defaults() {
    let text = "alerts:\n  alertmanager: [http://am:9093, 'https://am-2:9093/']\n  \
                webhook: [https://hooks.example/dbmon]\nclusters: []\n";
    let a = parse(text).unwrap().alerts.expect("alerts");
    assert_eq!(
        a.targets,
        [
            AlertTarget::Alertmanager("http://am:9093/api/v2/alerts".into()),
            AlertTarget::Alertmanager("https://am-2:9093/api/v2/alerts".into()),
            AlertTarget::Webhook("https://hooks.example/dbmon".into()),
        ]
    );
    assert_eq!(a.for_reports, 2);
    assert_eq!(a.resend, Duration::from_secs(60));
    assert_eq!(a.external_url, None);
    let text = "alerts: {alertmanager: ['http://am:9093/api/v2/alerts'], for: 5, resend: 30s, \
                external_url: 'https://dbmon:9464/'}\nclusters: []\n";
    let a = parse(text).unwrap().alerts.unwrap();
    assert_eq!(a.targets[0].url(), "http://am:9093/api/v2/alerts");
    assert_eq!(a.for_reports, 5);
    assert_eq!(a.resend, Duration::from_secs(30));
    assert_eq!(a.external_url.as_deref(), Some("https://dbmon:9464"));
    assert!(parse("clusters: []\n").unwrap().alerts.is_none());
}

#[test]
fn alerts_errors_are_named_where_they_are() {
    let error = only_error("alerts:\n  alertmanager: [am:9093]\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:18:") && error.contains("Alertmanager URL"),
        "{error}"
    );
    let error = only_error("alerts:\n  webhook: ['http://']\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:13:") && error.contains("webhook URL"),
        "{error}"
    );
    let error = only_error("alerts:\n  for: 2\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:2:3:") && error.contains("where they go"),
        "{error}"
    );
    let error = only_error("alerts:\n  webhook: [http://h/]\n  for: 0\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:3:8:") && error.contains("1 to 1000"),
        "{error}"
    );
    let error = only_error("alerts:\n  webhook: [http://h/]\n  resend: 100ms\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:3:11:") && error.contains("at least 1s"),
        "{error}"
    );
    let error = only_error("alerts:\n  webhook: [http://h/]\n  resend_every: 1m\nclusters: []\n");
    assert!(error.contains("unknown field `resend_every`"), "{error}");
    let error =
        only_error("alerts:\n  webhook: [http://h/]\n  external_url: dbmon:9464\nclusters: []\n");
    assert!(
        error.starts_with("/etc/dbmon/dbmon.yaml:3:17:") && error.contains("status page"),
        "{error}"
    );
}

#[test]
fn a_bad_rule_is_named_where_it_is_written_with_its_place_in_the_expression() {
    let e = only_error(
        "clusters:\n  - id: a\n    connector: system\n    rules:\n      - {when: \"load1 >\", status: degraded}\n",
    );
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:5:"), "{e}");
    assert!(e.contains("column 8 of the expression"), "{e}");
    let e = only_error(
        "connectors:\n  system:\n    rules:\n      - {when: \"load1 > 1\", status: healthy}\nclusters:\n  - {id: a, connector: system}\n  - {id: b, connector: system}\n",
    );
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:4:"), "{e}");
    assert!(e.contains("override: true"), "{e}");
    let e = only_error(
        "clusters:\n  - id: a\n    connector: system\n    rules:\n      - {when: \"load1 > 1\", status: broken}\n",
    );
    assert!(e.starts_with("/etc/dbmon/dbmon.yaml:5:"), "{e}");
}

#[test]
fn a_clusters_rules_are_compiled_with_the_connectors_defaults() {
    let config = parse(
        "connectors:\n  system:\n    rules:\n      - {when: \"load1 > 100\", status: degraded, name: busy}\nclusters:\n  - id: a\n    connector: system\n    rules:\n      - {when: \"load1 > 50\", status: degraded, name: busy}\n  - {id: b, connector: system}\n",
    )
    .unwrap();
    assert!(!config.clusters[0].rules.is_empty());
    assert_ne!(config.clusters[0].rules, config.clusters[1].rules);
}
