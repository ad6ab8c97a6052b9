//! Config validation through `Connector::new`, as the host calls it; the messages are the
//! README's.

mod common;

use common::build;
use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector};
use dbmon_connector_nats::{Nats, Options};
use dbmon_test_support::docs::ConnectorDir;

fn refused(options: Options, endpoints: &[&str], auth: Option<AuthConfig>) -> ConfigError {
    let mut config = ClusterConfig::new("nats", options).with_endpoints(endpoints.iter().copied());
    config.auth = auth;
    match <Nats as Connector>::new(config) {
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
fn endpoints_must_be_monitoring_urls() {
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:8222", "10.0.0.2:8222"],
        None,
    ));
    assert_eq!(err.path, "endpoints[1]");
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:8222/varz"],
        None,
    ));
    assert_eq!(err.path, "endpoints[0]");
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:8222", "http://10.0.0.1:8222/"],
        None,
    ));
    assert_eq!(err.path, "endpoints[1]");
    let err = refused(Options::default(), &["http://host:99999"], None);
    assert_eq!(
        err.to_string(),
        "endpoints[0]: 'http://host:99999' is not a valid URL: invalid port number"
    );
    let err = refused(Options::default(), &["https://user:secret@host:8222"], None);
    assert!(!err.to_string().contains("secret"), "{err}");
    assert_eq!(err.path, "endpoints[0]");
    // nats:// is the client port, not the monitoring endpoint.
    let err = refused(Options::default(), &["nats://10.0.0.1:4222"], None);
    assert_eq!(err.path, "endpoints[0]");
}

#[test]
fn the_pending_threshold_must_be_positive() {
    let options = Options {
        consumer_pending_degraded: 0,
        ..Options::default()
    };
    let err = documented(refused(options, &["http://10.0.0.1:8222"], None));
    assert_eq!(err.path, "options.consumer_pending_degraded");
}

#[test]
fn unknown_options_and_values_are_refused_with_their_path() {
    let options = |json: &str| {
        serde_json::from_str::<Options>(json)
            .unwrap_err()
            .to_string()
    };
    assert!(
        options(r#"{"consumer_pending": 1}"#).contains("unknown field `consumer_pending`"),
        "{}",
        options(r#"{"consumer_pending": 1}"#)
    );
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let bad = options(r#"{"jetstream": "maybe"}"#);
    let bad = bad.split(" at line").next().unwrap();
    assert!(
        readme.contains(&format!("options.jetstream: {bad}")),
        "README lacks {bad}"
    );
}

#[test]
fn a_user_without_password_is_refused() {
    let auth = |user: &str, password: Option<&str>| AuthConfig {
        username: Some(user.into()),
        password: password.map(String::from),
    };
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:8222"],
        Some(auth("monitor", None)),
    ));
    assert_eq!(err.path, "auth.password");
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:8222"],
        Some(AuthConfig {
            username: None,
            password: Some("s3cret".into()),
        }),
    ));
    assert_eq!(err.path, "auth.username");
    assert!(!err.to_string().contains("s3cret"));
    assert!(build(Options::default(), &["http://10.0.0.1:8222".to_string()]).is_ok());
}
