//! Config validation, through `Connector::new` as the host calls it.

mod common;

use common::{build, refused, url};
use dbmon_connector_api::Connector;
use dbmon_connector_api::{ClusterConfig, TlsConfig};
use dbmon_connector_prometheus::{Options, Prometheus};

#[test]
fn a_url_or_endpoints_is_required() {
    let err = refused(Options::default(), &[]);
    assert_eq!(err.path, "options.url");
    assert!(err.message.contains("endpoints"), "{err}");
}

#[test]
fn the_url_must_be_http() {
    let err = refused(url("ftp://x"), &[]);
    assert_eq!(
        err.to_string(),
        "options.url: 'ftp://x' is not an http:// or https:// URL"
    );
    let err = refused(url("localhost:9100/metrics"), &[]);
    assert_eq!(err.path, "options.url");
    assert!(err.message.contains("'localhost:9100/metrics'"), "{err}");
}

#[test]
fn the_url_must_parse() {
    for bad in [
        "http://",
        "http://host:99999/metrics",
        "https://exa mple.com/",
    ] {
        let err = refused(url(bad), &[]);
        assert_eq!(err.path, "options.url", "{bad}");
        assert!(
            err.message
                .starts_with(&format!("'{bad}' is not a valid URL: ")),
            "{err}"
        );
    }
    // As the README shows it.
    let err = refused(url("http://host:99999/metrics"), &[]);
    assert_eq!(
        err.to_string(),
        "options.url: 'http://host:99999/metrics' is not a valid URL: invalid port number"
    );
}

#[test]
fn a_bad_endpoint_is_named_by_its_index() {
    let endpoints = ["http://a:9100/metrics".to_string(), "b:9100".to_string()];
    let err = refused(Options::default(), &endpoints);
    assert_eq!(err.path, "endpoints[1]");
    assert_eq!(err.message, "'b:9100' is not an http:// or https:// URL");
}

#[test]
fn valid_urls_are_accepted() {
    assert!(build(url("http://127.0.0.1:9100/metrics"), &[]).is_ok());
    assert!(build(url("https://[::1]:8080/_status/vars?x=1"), &[]).is_ok());
    let endpoints = [
        "http://a:9100/metrics".to_string(),
        "HTTPS://B/metrics".to_string(),
    ];
    assert!(build(Options::default(), &endpoints).is_ok());
}

#[test]
fn empty_patterns_are_refused() {
    let options = Options {
        include: vec!["http_*".into(), "".into()],
        ..url("http://h/metrics")
    };
    let err = refused(options, &[]);
    assert_eq!(err.path, "options.include[1]");
    assert_eq!(err.message, "empty pattern");
    let options = Options {
        exclude: vec!["".into()],
        ..url("http://h/metrics")
    };
    assert_eq!(refused(options, &[]).path, "options.exclude[0]");
}

#[test]
fn max_body_bytes_must_be_positive() {
    let options = Options {
        max_body_bytes: Some(0),
        ..url("http://h/metrics")
    };
    let err = refused(options, &[]);
    assert_eq!(
        err.to_string(),
        "options.max_body_bytes: must be more than 0"
    );
}

#[test]
fn unknown_options_are_refused() {
    let json = r#"{"id":"p","interval_ms":10000,"timeout_ms":5000,
        "options":{"url":"http://h/metrics","exclude":[],"includes":["a*"]}}"#;
    let err = serde_json::from_str::<ClusterConfig<Options>>(json).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown field `includes`"), "{text}");
    assert!(text.contains("`include`"), "{text}");
}

#[test]
fn options_block_from_json_is_accepted() {
    let json = r#"{"id":"p","endpoints":["http://a/metrics","http://b/metrics"],
        "interval_ms":10000,"timeout_ms":5000,
        "options":{"include":["sql_*"],"exclude":["*_bucket"],"max_body_bytes":1048576}}"#;
    let config: ClusterConfig<Options> = serde_json::from_str(json).unwrap();
    assert!(<Prometheus as Connector>::new(config).is_ok());
    let empty: Options = serde_json::from_str("{}").unwrap();
    assert!(empty.url.is_none() && empty.include.is_empty() && empty.exclude.is_empty());
    assert_eq!(empty.max_body_bytes, None);
}

#[test]
fn a_client_certificate_needs_its_key() {
    let mut config = ClusterConfig::new("p", url("https://h/metrics"));
    config.tls = Some(TlsConfig {
        cert: Some("/nonexistent/client.pem".into()),
        ..TlsConfig::default()
    });
    match <Prometheus as Connector>::new(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => assert_eq!(err.path, "tls.cert"),
    }
}
