//! Configurations that cannot work are refused when the connector is built, naming the field;
//! every option has its documented default.

mod common;

use common::{build, config, refused, with_auth};
use dbmon_connector_api::{ClusterConfig, TlsConfig};
use dbmon_connector_mysql::{
    DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT, DEFAULT_REPLICATION_SECONDS_BEHIND_DEGRADED, Options,
};

fn endpoints(list: &[&str]) -> ClusterConfig<Options> {
    config(list, Options::default())
}

#[test]
fn defaults() {
    let options: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(options, Options::default());
    assert_eq!(options.connections_used_degraded_percent, 80.0);
    assert_eq!(DEFAULT_CONNECTIONS_USED_DEGRADED_PERCENT, 80.0);
    assert_eq!(options.replication_seconds_behind_degraded, 30.0);
    assert_eq!(DEFAULT_REPLICATION_SECONDS_BEHIND_DEGRADED, 30.0);
}

#[test]
fn every_spelling_of_an_endpoint_is_accepted() {
    let list = [
        "db1",
        "db2:3307",
        "mysql://db3:3308",
        "mariadb://db4/",
        "[::1]:3309",
        "mysql://[::1]",
    ];
    if let Err(e) = build(endpoints(&list)) {
        panic!("refused: {e}");
    }
}

#[test]
fn endpoints_that_cannot_work_are_refused_with_their_index() {
    assert_eq!(refused(endpoints(&[])).path, "endpoints");
    for bad in [
        "http://db:3306",
        "db:0",
        "db:65536",
        "db:port",
        "mysql://db:3306/app",
        "fe80::1",
    ] {
        let e = refused(endpoints(&["db:3306", bad]));
        assert_eq!(e.path, "endpoints[1]", "{bad}: {e}");
        assert!(e.message.contains(bad), "{bad}: {e}");
    }
    let e = refused(endpoints(&["db:3306", "mysql://db"]));
    assert_eq!(e.path, "endpoints[1]");
    assert!(e.message.contains("db:3306 is already endpoints[0]"), "{e}");
}

#[test]
fn credentials_in_an_address_are_refused_without_being_repeated() {
    let e = refused(endpoints(&["mysql://monitor:hunter2@db:3306"]));
    assert_eq!(e.path, "endpoints[0]");
    assert!(e.message.contains("auth:"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn thresholds_out_of_range_are_refused() {
    for (options, path) in [
        (
            r#"{"connections_used_degraded_percent": 101}"#,
            "options.connections_used_degraded_percent",
        ),
        (
            r#"{"connections_used_degraded_percent": -1}"#,
            "options.connections_used_degraded_percent",
        ),
        (
            r#"{"replication_seconds_behind_degraded": -0.5}"#,
            "options.replication_seconds_behind_degraded",
        ),
    ] {
        let options: Options = serde_json::from_str(options).unwrap();
        let e = refused(config(&["db:3306"], options));
        assert_eq!(e.path, path);
        assert!(e.message.contains("got"), "{e}");
    }
    let unknown = serde_json::from_str::<Options>(r#"{"connections_used_percent": 80}"#);
    let e = unknown.unwrap_err().to_string();
    assert!(
        e.contains("unknown field `connections_used_percent`"),
        "{e}"
    );
}

#[test]
fn a_user_without_a_password_is_a_login_but_a_password_needs_a_user() {
    // MySQL and MariaDB accounts may have no password.
    if let Err(e) = build(with_auth(endpoints(&["db:3306"]), "monitor", None)) {
        panic!("refused: {e}");
    }
    let mut c = endpoints(&["db:3306"]);
    c.auth = Some(dbmon_connector_api::AuthConfig {
        username: None,
        password: Some("s3cret".into()),
    });
    let e = refused(c);
    assert_eq!(e.path, "auth.username");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn tls_files_are_checked_at_startup() {
    let mut c = endpoints(&["db:3306"]);
    c.tls = Some(TlsConfig {
        ca: Some("/nonexistent/ca.pem".into()),
        ..TlsConfig::default()
    });
    assert_eq!(refused(c).path, "tls.ca");
    let mut c = endpoints(&["db:3306"]);
    c.tls = Some(TlsConfig {
        cert: Some("/nonexistent/client.pem".into()),
        ..TlsConfig::default()
    });
    assert!(refused(c).path.starts_with("tls."));
    let mut c = endpoints(&["db:3306"]);
    c.tls = Some(TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    });
    if let Err(e) = build(c) {
        panic!("refused: {e}");
    }
}
