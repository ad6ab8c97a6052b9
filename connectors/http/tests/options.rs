//! Config validation through `Connector::new`, as the host calls it: every refusal names the
//! exact field, and the messages the README lists read as it says.

mod common;

use common::{build, config};
use dbmon_connector_api::{ClusterConfig, ConfigError, TlsConfig};
use dbmon_connector_http::Options;
use dbmon_test_support::docs::ConnectorDir;

const URL: &str = "http://127.0.0.1:9200";

fn refused(options_yaml: &str) -> ConfigError {
    refused_with(&[URL], options_yaml)
}

fn refused_with(endpoints: &[&str], options_yaml: &str) -> ConfigError {
    let endpoints: Vec<String> = endpoints.iter().map(|e| e.to_string()).collect();
    match build(config(&endpoints, options_yaml)) {
        Ok(_) => panic!("accepted: {options_yaml}"),
        Err(e) => e,
    }
}

/// The error, checked to be written in the README as it reads.
fn documented(error: ConfigError) -> ConfigError {
    ConnectorDir::new(env!("CARGO_MANIFEST_DIR")).documented(error)
}

#[test]
fn requests_are_required() {
    let e = documented(refused("requests: []"));
    assert_eq!(e.path, "options.requests");
}

#[test]
fn an_unknown_method_is_refused() {
    let e = documented(refused("requests: [{path: /, method: FETCH}]"));
    assert_eq!(e.path, "options.requests[0].method");
    for good in ["get", "POST", "Put", "HEAD"] {
        build(config(
            &[URL.into()],
            &format!("requests: [{{path: /, method: {good}}}]"),
        ))
        .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[test]
fn a_path_is_a_path_or_a_url() {
    let e = documented(refused("requests: [{path: health}]"));
    assert_eq!(e.path, "options.requests[0].path");
    let e = refused("requests: [{path: /a}, {path: 'ftp://x/y'}]");
    assert_eq!(e.path, "options.requests[1].path");
    let e = refused("requests: [{path: 'http://user:pw@h/x'}]");
    assert!(!e.to_string().contains("pw"), "{e}");
}

#[test]
fn an_invalid_jsonpath_names_its_position() {
    let e = documented(refused(
        "requests: [{path: /, extract: [{name: nodes, path: '$.nodes[?(@.up'}]}]",
    ));
    assert_eq!(e.path, "options.requests[0].extract[0].path");
    let e = refused(
        "requests: [{path: /}, {path: /x, extract: [{name: a, path: $.a}, {name: b, each: '$..[', path: $}]}]",
    );
    assert_eq!(e.path, "options.requests[1].extract[1].each");
    assert!(e.message.contains("at character"), "{e}");
    let e = refused("requests: [{path: /, extract: [{name: a, labels: {x: 'nope'}}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0].labels.x");
    let e = refused("requests: [{path: /, node_status: {path: '$[', live: [up]}}]");
    assert_eq!(e.path, "options.requests[0].node_status.path");
    let e = refused("requests: [{path: /, extract: [{name: a, regex: '('}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0].regex");
}

#[test]
fn a_metric_name_is_extracted_once_per_label_set() {
    let e = documented(refused(
        "requests: [{path: /a, extract: [{name: nodes, path: $.n}]}, \
         {path: /b, extract: [{name: nodes, path: $.m}]}]",
    ));
    assert_eq!(e.path, "options.requests[1].extract[0].name");
    // The same name with other labels is another series.
    build(config(
        &[URL.into()],
        "requests: [{path: /a, extract: [{name: up, path: $.n}, {name: up, each: '$[*]', labels: {k: $.k}}]}]",
    ))
    .unwrap();
    for reserved in ["request_ms", "status_code"] {
        let e = refused(&format!(
            "requests: [{{path: /, extract: [{{name: {reserved}}}]}}]"
        ));
        assert_eq!(e.path, "options.requests[0].extract[0].name");
    }
    let e = refused("requests: [{path: /, extract: [{name: Nodes}]}]");
    assert!(e.message.contains("not a metric name"), "{e}");
}

#[test]
fn requests_are_named_apart() {
    let e = refused("requests: [{path: /a}, {path: /a, method: POST}]");
    assert_eq!(e.path, "options.requests[1].path");
    let e = refused("requests: [{path: /a, name: x}, {path: /b, name: x}]");
    assert_eq!(e.path, "options.requests[1].name");
    build(config(
        &[URL.into()],
        "requests: [{path: /a}, {path: /a, name: again}]",
    ))
    .unwrap();
}

#[test]
fn a_timeout_is_below_the_clusters() {
    let e = documented(refused("requests: [{path: /, timeout: 5s}]"));
    assert_eq!(e.path, "options.requests[0].timeout");
    let e = refused("requests: [{path: /, timeout: soon}]");
    assert_eq!(e.path, "options.requests[0].timeout");
    build(config(
        &[URL.into()],
        "requests: [{path: /, timeout: 4900ms}]",
    ))
    .unwrap();
}

#[test]
fn header_variables_must_be_set_and_are_never_shown() {
    let e = documented(refused(
        "requests: [{path: /, headers: {Authorization: 'Bearer ${env:MY_API_TOKEN}'}}]",
    ));
    assert_eq!(e.path, "options.requests[0].headers.Authorization");
    let e = refused("requests: [{path: /, headers: {'bad header': x}}]");
    assert_eq!(e.path, "options.requests[0].headers.bad header");
    let e = refused("requests: [{path: /, headers: {X-Token: \"s3cret\\nx\"}}]");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn value_rules_exclude_each_other() {
    let e = documented(refused(
        "requests: [{path: /, extract: [{name: a, equals: x, exists: true}]}]",
    ));
    assert_eq!(e.path, "options.requests[0].extract[0]");
    let e = refused("requests: [{path: /, extract: [{name: a, equals: [x]}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0].equals");
    let e = refused("requests: [{path: /, extract: [{name: a, in: [x, {y: 1}]}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0].in[1]");
}

#[test]
fn prometheus_extracts_name_a_series() {
    let e = refused("requests: [{path: /metrics, format: prometheus, extract: [{name: up}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0]");
    let e = refused(
        "requests: [{path: /metrics, format: prometheus, extract: [{name: up, path: '$.up'}]}]",
    );
    assert_eq!(e.path, "options.requests[0].extract[0].path");
    let e = refused("requests: [{path: /, extract: [{name: up, match: {job: x}}]}]");
    assert_eq!(e.path, "options.requests[0].extract[0].match.job");
    let e =
        refused("requests: [{path: /m, format: prometheus, node_status: {path: $, live: [1]}}]");
    assert_eq!(e.path, "options.requests[0].node_status");
}

#[test]
fn endpoints_are_base_urls_unless_every_request_has_a_full_url() {
    let e = documented(refused_with(&[], "requests: [{path: /health}]"));
    assert_eq!(e.path, "endpoints");
    build(config(
        &[],
        "requests: [{path: 'http://127.0.0.1:8500/v1/status/leader'}]",
    ))
    .unwrap();
    let e = refused_with(&[URL, "127.0.0.1:9201"], "requests: [{path: /}]");
    assert_eq!(e.path, "endpoints[1]");
    let e = refused_with(&["http://h:1/?x=1"], "requests: [{path: /}]");
    assert_eq!(e.path, "endpoints[0]");
    let e = refused_with(
        &[URL, "http://h:1", "http://127.0.0.1:9200/"],
        "requests: [{path: /}]",
    );
    assert_eq!(
        e.to_string(),
        "endpoints[2]: 'http://127.0.0.1:9200/' is listed twice (first as endpoints[0])"
    );
}

#[test]
fn a_body_goes_with_post_or_put() {
    let e = refused("requests: [{path: /, body: '{}'}]");
    assert_eq!(e.path, "options.requests[0].body");
    let e = refused("requests: [{path: /, method: POST, content_type: text/plain}]");
    assert_eq!(e.path, "options.requests[0].content_type");
    let e = refused("requests: [{path: /, expect_status: [200, 999]}]");
    assert_eq!(e.path, "options.requests[0].expect_status[1]");
}

#[test]
fn basic_auth_and_an_authorization_header_exclude_each_other() {
    let config = config(
        &[URL.into()],
        "requests: [{path: /, headers: {authorization: Basic eA==}}]",
    )
    .with_auth(Some("monitor"), Some("pw"));
    let e = build(config).err().unwrap();
    assert_eq!(e.path, "options.requests[0].headers");
    let config = common::config(&[URL.into()], "requests: [{path: /}]").with_auth(Some("m"), None);
    assert_eq!(build(config).err().unwrap().path, "auth.password");
}

#[test]
fn unknown_options_are_refused() {
    for (options, field) in [
        (r#"{"requests": [], "colour": 1}"#, "colour"),
        (r#"{"requests": [{"path": "/", "methd": "GET"}]}"#, "methd"),
        (
            r#"{"requests": [{"path": "/", "extract": [{"name": "a", "pth": "$"}]}]}"#,
            "pth",
        ),
    ] {
        let e = serde_json::from_str::<Options>(options)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("unknown field `{field}`")), "{e}");
    }
}

#[test]
fn a_client_certificate_needs_its_key() {
    let config: ClusterConfig<Options> =
        config(&["https://h:9200".into()], "requests: [{path: /}]").with_tls(TlsConfig {
            cert: Some("/nonexistent/client.pem".into()),
            ..TlsConfig::default()
        });
    assert_eq!(build(config).err().unwrap().path, "tls.cert");
}
