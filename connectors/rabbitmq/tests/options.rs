//! Config validation through `Connector::new`, as the host calls it; the messages are the
//! README's.

mod common;

use common::build;
use dbmon_connector_api::{AuthConfig, ClusterConfig, ConfigError, Connector, TlsConfig};
use dbmon_connector_rabbitmq::{Options, RabbitMq};
use dbmon_test_support::docs::ConnectorDir;

const LOGIN: Option<(&str, &str)> = Some(("dbmon-monitor", "pw"));

fn refused(options: Options, endpoints: &[&str], auth: Option<AuthConfig>) -> ConfigError {
    let mut config =
        ClusterConfig::new("rabbitmq", options).with_endpoints(endpoints.iter().copied());
    config.auth = auth;
    match <RabbitMq as Connector>::new(config) {
        Ok(_) => panic!("accepted: {endpoints:?}"),
        Err(e) => e,
    }
}

fn login() -> Option<AuthConfig> {
    Some(AuthConfig {
        username: Some("dbmon-monitor".into()),
        password: Some("pw".into()),
    })
}

/// The error, checked to be written in the README as it reads.
fn documented(error: ConfigError) -> ConfigError {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR")).documented(error)
}

#[test]
fn endpoints_are_required() {
    let err = documented(refused(Options::default(), &[], login()));
    assert_eq!(err.path, "endpoints");
}

#[test]
fn endpoints_must_be_base_urls() {
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:15672", "10.0.0.2:15672"],
        login(),
    ));
    assert_eq!(err.path, "endpoints[1]");
    let err = documented(refused(
        Options::default(),
        &["http://10.0.0.1:15672/api"],
        login(),
    ));
    assert_eq!(err.path, "endpoints[0]");
    let err = refused(Options::default(), &["http://h:15672/?x=1"], login());
    assert_eq!(err.path, "endpoints[0]");
    let err = refused(Options::default(), &["http://host:99999"], login());
    assert_eq!(
        err.to_string(),
        "endpoints[0]: 'http://host:99999' is not a valid URL: invalid port number"
    );
    let err = refused(
        Options::default(),
        &["https://mon:secret@host:15672"],
        login(),
    );
    assert!(!err.to_string().contains("secret"), "{err}");
    assert_eq!(err.path, "endpoints[0]");
}

#[test]
fn good_endpoints_are_accepted() {
    let endpoints = [
        "http://127.0.0.1:15672".to_string(),
        "https://rabbit-2.example:15671/".to_string(),
        // management.path_prefix = /rabbitmq
        "https://rabbit-3.example/rabbitmq".to_string(),
        "HTTP://[::1]:15672".to_string(),
    ];
    assert!(build(Options::default(), &endpoints, LOGIN).is_ok());
}

#[test]
fn max_queues_is_one_page_of_the_api() {
    for bad in [0, 501, 10_000] {
        let options = Options {
            max_queues: bad,
            ..Options::default()
        };
        let err = refused(options, &["http://127.0.0.1:15672"], login());
        assert_eq!(err.path, "options.max_queues", "{bad}");
        if bad == 0 {
            documented(err);
        }
    }
    for good in [1, 500] {
        let options = Options {
            max_queues: good,
            ..Options::default()
        };
        assert!(build(options, &["http://127.0.0.1:15672".into()], LOGIN).is_ok());
    }
}

#[test]
fn a_login_is_required_and_comes_in_pairs() {
    let err = documented(refused(Options::default(), &["http://h:15672"], None));
    assert_eq!(err.path, "auth");
    let user_only = AuthConfig {
        username: Some("mon".into()),
        password: None,
    };
    let err = documented(refused(
        Options::default(),
        &["http://h:15672"],
        Some(user_only),
    ));
    assert_eq!(err.path, "auth.password");
    let password_only = AuthConfig {
        username: None,
        password: Some("pw".into()),
    };
    let err = refused(Options::default(), &["http://h:15672"], Some(password_only));
    assert_eq!(
        err.to_string(),
        "auth.username: the RabbitMQ management API needs a user name"
    );
}

#[test]
fn unknown_and_invalid_options_are_refused_with_their_path() {
    let parse = |options: &str| {
        let json = format!(
            r#"{{"id":"r","interval_ms":10000,"timeout_ms":5000,"endpoints":["http://h:15672"],"options":{options}}}"#
        );
        serde_json::from_str::<ClusterConfig<Options>>(&json)
            .unwrap_err()
            .to_string()
    };
    let text = parse(r#"{"max_queue": 10}"#);
    assert!(text.contains("unknown field `max_queue`"), "{text}");
    assert!(text.contains("`max_queues`"), "{text}");
    let text = parse(r#"{"ready_without_consumers_degraded": "many"}"#);
    assert!(text.contains("invalid type"), "{text}");
    let defaults: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(
        defaults.max_queues,
        dbmon_connector_rabbitmq::DEFAULT_MAX_QUEUES
    );
}

#[test]
fn a_client_certificate_needs_its_key() {
    let mut config =
        ClusterConfig::new("r", Options::default()).with_endpoints(["https://h:15671"]);
    config.auth = login();
    config.tls = Some(TlsConfig {
        cert: Some("/nonexistent/client.pem".into()),
        ..TlsConfig::default()
    });
    match <RabbitMq as Connector>::new(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => assert_eq!(err.path, "tls.cert"),
    }
}
