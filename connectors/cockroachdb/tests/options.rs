//! A configuration that cannot work is refused at startup, naming the field.

mod common;

use common::*;
use dbmon_connector_api::{AuthConfig, TlsConfig};
use dbmon_connector_cockroachdb::Options;

fn refused(config: dbmon_connector_api::ClusterConfig<Options>) -> String {
    match build(config) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e.to_string(),
    }
}

fn endpoints(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn endpoints_must_be_node_base_urls() {
    assert_eq!(
        refused(config(&[], Options::default())),
        "endpoints: list the HTTP endpoint of at least one node (http://host:8080)"
    );
    let cases = [
        (
            "ftp://roach1:8080",
            "endpoints[1]: 'ftp://roach1:8080' is not an http:// or https:// URL",
        ),
        (
            "roach1:8080",
            "endpoints[1]: 'roach1:8080' is not an http:// or https:// URL",
        ),
        (
            "http://roach1:99999",
            "endpoints[1]: 'http://roach1:99999' is not a valid URL (invalid port number); write it as http://host:8080",
        ),
        (
            "http://roach1:8080/_status/vars",
            "endpoints[1]: 'http://roach1:8080/_status/vars': give the node's base URL (http://host:8080), without a path",
        ),
        (
            "http://root:secret@roach1:8080",
            "endpoints[1]: put credentials in auth:, not in the URL (the URL is shown in every reason)",
        ),
    ];
    for (bad, message) in cases {
        let list = endpoints(&["http://roach0:8080", bad]);
        assert_eq!(refused(config(&list, Options::default())), message);
    }
    let good = endpoints(&[
        "http://roach1:8080",
        "https://roach2:8080/",
        "http://[::1]:8080",
    ]);
    assert!(build(config(&good, Options::default())).is_ok());
}

#[test]
fn thresholds_are_checked() {
    let one = endpoints(&["http://roach1:8080"]);
    let with = |options: Options| refused(config(&one, options));
    assert_eq!(
        with(Options {
            max_offset: Some("fast".into()),
            ..Options::default()
        }),
        "options.max_offset: 'fast' is not a positive duration (write it as 500ms)"
    );
    assert_eq!(
        with(Options {
            max_offset: Some("0s".into()),
            ..Options::default()
        }),
        "options.max_offset: '0s' is not a positive duration (write it as 500ms)"
    );
    assert_eq!(
        with(Options {
            capacity_degraded_percent: Some(120.0),
            ..Options::default()
        }),
        "options.capacity_degraded_percent: must be a percentage from 0 to 100; got 120"
    );
    assert_eq!(
        with(Options {
            capacity_degraded_percent: Some(97.0),
            ..Options::default()
        }),
        "options.capacity_degraded_percent: must not be above capacity_unhealthy_percent (95); got 97"
    );
    assert_eq!(
        with(Options {
            clock_offset_degraded_percent: Some(-1.0),
            ..Options::default()
        }),
        "options.clock_offset_degraded_percent: must be a percentage from 0 to 100; got -1"
    );
    assert_eq!(
        with(Options {
            max_body_bytes: Some(0),
            ..Options::default()
        }),
        "options.max_body_bytes: must be more than 0"
    );
    let unknown = serde_json::from_str::<Options>(r#"{"max_ofset": "1s"}"#).unwrap_err();
    assert!(
        unknown.to_string().starts_with("unknown field `max_ofset`"),
        "{unknown}"
    );
}

#[test]
fn credentials_and_tls_files_are_checked() {
    let one = endpoints(&["https://roach1:8080"]);
    let mut no_password = config(&one, Options::default());
    no_password.auth = Some(AuthConfig {
        username: Some("monitor".into()),
        password: None,
    });
    assert_eq!(
        refused(no_password),
        "auth.password: the nodes API login needs a password (password: or password_file:)"
    );
    let mut no_user = config(&one, Options::default());
    no_user.auth = Some(AuthConfig {
        username: None,
        password: Some("pw".into()),
    });
    assert_eq!(
        refused(no_user),
        "auth.username: the nodes API login needs a user name"
    );
    let missing = TlsConfig {
        ca: Some("/nonexistent/ca.crt".into()),
        ..TlsConfig::default()
    };
    let error = refused(with_tls(config(&one, Options::default()), missing));
    assert!(
        error.starts_with("tls.ca: cannot read /nonexistent/ca.crt"),
        "{error}"
    );
}
