//! Configurations the connector refuses at startup, each naming the field.

mod common;

use common::{config, refused, with_auth, with_tls};
use dbmon_connector_api::{ClusterConfig, Connector, TlsConfig};
use dbmon_connector_postgres::{Options, Postgres};

fn endpoints(list: &[&str]) -> Vec<String> {
    list.iter().map(|e| e.to_string()).collect()
}

fn error(endpoint_list: &[&str], options: Options) -> (String, String) {
    let e = refused(config(&endpoints(endpoint_list), options));
    (e.path, e.message)
}

#[test]
fn accepted_endpoint_forms() {
    let list = [
        "db1",
        "db2:6432",
        "[::1]:5433",
        "postgres://db3",
        "postgresql://db4:5432/app",
        "postgres://10.0.0.5:5432/",
    ];
    let config = ClusterConfig::new("pg", Options::default()).with_endpoints(list);
    if let Err(e) = <Postgres as Connector>::new(config) {
        panic!("refused: {e}");
    }
}

#[test]
fn bad_endpoints_are_refused_with_their_index() {
    let ok = "db1:5432";
    let cases = [
        ("http://db2:5432", "is not postgres:// or postgresql://"),
        ("db2:0", "is not a port number"),
        ("db2:54321x", "is not a port number"),
        ("::1", "brackets"),
        (
            "postgres://db2/app?sslmode=require",
            "query parameters are not supported",
        ),
        ("postgres://", "no host"),
        ("db1", "already endpoints[0]"),
    ];
    for (bad, expected) in cases {
        let (path, message) = error(&[ok, bad], Options::default());
        assert_eq!(path, "endpoints[1]", "{bad}: {message}");
        assert!(message.contains(expected), "{bad}: {message}");
    }
    let (path, message) = error(&[], Options::default());
    assert_eq!(path, "endpoints");
    assert!(message.contains("at least one"), "{message}");
}

#[test]
fn credentials_in_an_endpoint_are_refused_without_repeating_them() {
    let (path, message) = error(
        &["postgres://monitor:hunter2@db1:5432/app"],
        Options::default(),
    );
    assert_eq!(path, "endpoints[0]");
    assert!(message.contains("auth:"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("<redacted>@db1:5432/app"), "{message}");
}

/// A '/' or '@' in the password does not move the split: the password is refused, unseen,
/// and never read as a port or a database.
#[test]
fn passwords_with_slashes_and_ats_are_refused_without_repeating_them() {
    // "pa" and "ss" alone are in "password": the pieces are looked for as they would show.
    for (url, pieces) in [
        (
            "postgres://monitor:pa/ss@db1",
            &["pa/ss", "'pa'", "/ss"][..],
        ),
        ("postgres://u:/s3cr3t@db1", &["s3cr3t"][..]),
        ("postgres://u:p@ss@db1/app", &["p@ss", "ss@", "'p'"][..]),
    ] {
        let (path, message) = error(&[url], Options::default());
        assert_eq!(path, "endpoints[0]", "{url}: {message}");
        assert!(
            message.contains("a password does not belong"),
            "{url}: {message}"
        );
        for piece in pieces {
            assert!(!message.contains(piece), "{url}: {piece}: {message}");
        }
    }
}

#[test]
fn a_user_in_an_endpoint_is_the_login_user_not_a_secret() {
    let list = endpoints(&["postgres://monitor@db1:5432/postgres", "db2"]);
    if let Err(e) = <Postgres as Connector>::new(config(&list, Options::default())) {
        panic!("refused: {e}");
    }
    // The same user in auth: too is no conflict.
    let same = with_auth(config(&list, Options::default()), "monitor", "pw");
    if let Err(e) = <Postgres as Connector>::new(same) {
        panic!("refused: {e}");
    }
}

#[test]
fn a_password_in_an_endpoint_is_refused_with_the_auth_lines_to_write() {
    let (path, message) = error(
        &["db0", "postgres://monitor:hunter2@db1:5432/app"],
        Options::default(),
    );
    assert_eq!(path, "endpoints[1]");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("write the endpoint as postgres://monitor@db1:5432/app"),
        "{message}"
    );
    assert!(
        message
            .contains("\n    auth:\n      username: monitor\n      password: ${env:PG_PASSWORD}"),
        "{message}"
    );
}

#[test]
fn two_different_users_are_refused_with_both_named() {
    let list = endpoints(&["db0", "postgres://monitor@db1/app"]);
    let e = refused(with_auth(config(&list, Options::default()), "dbmon", "pw"));
    assert_eq!(e.path, "endpoints[1]");
    assert!(
        e.message.contains("'monitor'") && e.message.contains("auth.username is 'dbmon'"),
        "{}",
        e.message
    );
    let (path, message) = error(
        &["postgres://monitor@db1", "postgres://admin@db2"],
        Options::default(),
    );
    assert_eq!(path, "endpoints[1]");
    assert!(
        message.contains("'admin'") && message.contains("endpoints[0] names 'monitor'"),
        "{message}"
    );
}

#[test]
fn thresholds_out_of_range_are_refused() {
    let cases: [(Options, &str); 5] = [
        (
            Options {
                connections_used_degraded_percent: 150.0,
                ..Options::default()
            },
            "options.connections_used_degraded_percent",
        ),
        (
            Options {
                xid_wraparound_degraded_percent: -1.0,
                ..Options::default()
            },
            "options.xid_wraparound_degraded_percent",
        ),
        (
            Options {
                replication_lag_bytes_degraded: -5.0,
                ..Options::default()
            },
            "options.replication_lag_bytes_degraded",
        ),
        (
            Options {
                replication_lag_seconds_degraded: f64::INFINITY,
                ..Options::default()
            },
            "options.replication_lag_seconds_degraded",
        ),
        (
            Options {
                expected_replicas: vec!["r1".into(), " ".into()],
                ..Options::default()
            },
            "options.expected_replicas[1]",
        ),
    ];
    for (options, field) in cases {
        let (path, message) = error(&["db1"], options);
        assert_eq!(path, field, "{message}");
    }
    let (path, _) = error(
        &["db1"],
        Options {
            database: String::new(),
            ..Options::default()
        },
    );
    assert_eq!(path, "options.database");
}

#[test]
fn unknown_options_are_refused_by_name() {
    let e = serde_json::from_str::<Options>(r#"{"expected_replica": ["r1"]}"#).unwrap_err();
    assert!(
        e.to_string().contains("unknown field `expected_replica`"),
        "{e}"
    );
    let options: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(options.database, "postgres");
    assert_eq!(options.connections_used_degraded_percent, 80.0);
}

#[test]
fn a_client_certificate_needs_its_key() {
    let base = || config(&endpoints(&["db1"]), Options::default());
    let tls = TlsConfig {
        cert: Some("client.crt".into()),
        ..TlsConfig::default()
    };
    assert_eq!(refused(with_tls(base(), tls)).path, "tls.cert");
    let tls = TlsConfig {
        key: Some("client.key".into()),
        ..TlsConfig::default()
    };
    assert_eq!(refused(with_tls(base(), tls)).path, "tls.key");
}
