//! Config validation through `Connector::new`, as the host calls it; the messages are the
//! README's.

mod common;

use common::build;
use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector, TlsConfig};
use dbmon_connector_etcd::{Etcd, Options};
use dbmon_test_support::docs::ConnectorDir;

fn refused(options: Options, endpoints: &[&str], auth: Option<AuthConfig>) -> ConfigError {
    let mut config = ClusterConfig::new("etcd", options).with_endpoints(endpoints.iter().copied());
    config.auth = auth;
    match <Etcd as Connector>::new(config) {
        Ok(_) => panic!("accepted: {endpoints:?}"),
        Err(e) => e,
    }
}

/// The error, checked to be written in the README as it reads.
fn documented(error: ConfigError) -> ConfigError {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR")).documented(error)
}

#[test]
fn endpoints_are_required() {
    let err = documented(refused(Options::default(), &[], None));
    assert_eq!(err.path, "endpoints");
}

#[test]
fn endpoints_must_be_client_urls() {
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:2379", "10.0.0.2:2379"],
        None,
    ));
    assert_eq!(err.path, "endpoints[1]");
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:2379/v3"],
        None,
    ));
    assert_eq!(err.path, "endpoints[0]");
    let err = refused(Options::default(), &["http://host:99999"], None);
    assert_eq!(
        err.to_string(),
        "endpoints[0]: 'http://host:99999' is not a valid URL: invalid port number"
    );
    let err = refused(Options::default(), &["https://user:secret@host:2379"], None);
    assert!(!err.to_string().contains("secret"), "{err}");
    assert_eq!(err.path, "endpoints[0]");
}

#[test]
fn good_endpoints_are_accepted() {
    let endpoints = [
        "http://127.0.0.1:2379".to_string(),
        "https://etcd-2.example:2379/".to_string(),
        "HTTP://[::1]:2379".to_string(),
    ];
    assert!(build(Options::default(), &endpoints, None).is_ok());
}

#[test]
fn the_quota_threshold_is_a_percentage() {
    for bad in [0.0, -5.0, 150.0, f64::NAN] {
        let options = Options {
            db_quota_used_degraded_percent: bad,
            ..Options::default()
        };
        let err = refused(options, &["http://127.0.0.1:2379"], None);
        assert_eq!(err.path, "options.db_quota_used_degraded_percent", "{bad}");
        if bad == 150.0 {
            documented(err);
        }
    }
}

#[test]
fn credentials_come_in_pairs() {
    let user_only = AuthConfig {
        username: Some("mon".into()),
        password: None,
    };
    let err = documented(refused(
        Options::default(),
        &["http://h:2379"],
        Some(user_only),
    ));
    assert_eq!(err.path, "auth.password");
    let password_only = AuthConfig {
        username: None,
        password: Some("pw".into()),
    };
    let err = refused(Options::default(), &["http://h:2379"], Some(password_only));
    assert_eq!(
        err.to_string(),
        "auth.username: etcd authentication needs a user name"
    );
}

#[test]
fn unknown_options_are_refused() {
    let json = r#"{"id":"e","interval_ms":10000,"timeout_ms":5000,"endpoints":["http://h:2379"],
        "options":{"raft_index_spread":10}}"#;
    let err = serde_json::from_str::<ClusterConfig<Options>>(json).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown field `raft_index_spread`"), "{text}");
    assert!(text.contains("`raft_index_spread_degraded`"), "{text}");
}

#[test]
fn a_client_certificate_needs_its_key() {
    let mut config = ClusterConfig::new("e", Options::default()).with_endpoints(["https://h:2379"]);
    config.tls = Some(TlsConfig {
        cert: Some("/nonexistent/client.pem".into()),
        ..TlsConfig::default()
    });
    match <Etcd as Connector>::new(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => assert_eq!(err.path, "tls.cert"),
    }
}
