//! Configurations that cannot work are refused when the connector is built, naming the field.

mod common;

use common::{build, config, with_auth, with_tls};
use dbmon_connector_api::{ConfigError, TlsConfig};
use dbmon_connector_redis::{
    DEFAULT_MEMORY_USED_DEGRADED_PERCENT, DEFAULT_MIN_REPLICAS_PER_MASTER, Options,
};

fn refused(cfg: dbmon_connector_api::ClusterConfig<Options>) -> ConfigError {
    match build(cfg) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

fn endpoints(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_spelling_of_an_endpoint_is_accepted() {
    let list = endpoints(&[
        "db1",
        "db2:7000",
        "redis://db3:7001",
        "redis://[::1]:7002/",
        "[::1]",
    ]);
    if let Err(e) = build(config(&list)) {
        panic!("refused: {e}");
    }
    let tls = endpoints(&["rediss://db1:6380", "db2:6380"]);
    if let Err(e) = build(config(&tls)) {
        panic!("refused: {e}");
    }
}

#[test]
fn endpoints_that_cannot_work_are_refused_with_their_index() {
    assert_eq!(refused(config::<&str>(&[])).path, "endpoints");
    for bad in [
        "http://db:6379",
        "db:0",
        "db:65536",
        "db:port",
        "redis://db:6379/2",
        "fe80::1",
    ] {
        let e = refused(config(&endpoints(&["db:6379", bad])));
        assert_eq!(e.path, "endpoints[1]", "{bad}: {e}");
        assert!(e.message.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn credentials_in_an_address_are_refused_without_being_repeated() {
    let e = refused(config(&endpoints(&["redis://monitor:hunter2@db:6379"])));
    assert_eq!(e.path, "endpoints[0]");
    assert!(e.message.contains("auth:"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn plain_redis_urls_in_a_tls_cluster_are_refused() {
    let e = refused(config(&endpoints(&[
        "rediss://db1:6380",
        "redis://db2:6380",
    ])));
    assert_eq!(e.path, "endpoints[1]");
    let e = refused(with_tls(
        config(&endpoints(&["redis://db1:6380"])),
        TlsConfig::default(),
    ));
    assert_eq!(e.path, "endpoints[0]");
}

#[test]
fn a_username_needs_a_password() {
    let mut cfg = config(&endpoints(&["db:6379"]));
    cfg.auth = Some(dbmon_connector_api::AuthConfig {
        username: Some("monitor".into()),
        password: None,
    });
    assert_eq!(refused(cfg).path, "auth.password");
    // A password alone is the default user's.
    assert!(build(with_auth(config(&endpoints(&["db:6379"])), None, "pw")).is_ok());
}

#[test]
fn thresholds_out_of_range_are_refused() {
    for percent in [-1.0, 100.5, f64::NAN] {
        let mut cfg = config(&endpoints(&["db:6379"]));
        cfg.options.memory_used_degraded_percent = percent;
        let e = refused(cfg);
        assert_eq!(e.path, "options.memory_used_degraded_percent", "{percent}");
    }
}

#[test]
fn options_have_documented_defaults_and_refuse_unknown_fields() {
    let options: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(options, Options::default());
    assert_eq!(
        options.memory_used_degraded_percent,
        DEFAULT_MEMORY_USED_DEGRADED_PERCENT
    );
    assert_eq!(
        options.min_replicas_per_master,
        DEFAULT_MIN_REPLICAS_PER_MASTER
    );
    let e = serde_json::from_str::<Options>(r#"{"memory_used_percent": 90}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}
