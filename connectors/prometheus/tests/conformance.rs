//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::{TlsConfig, testkit::Conformance};
use dbmon_connector_prometheus::Prometheus;
use dbmon_test_support::{SilentHttpNodes, TestCa};

/// The kit's refusals, the same with or without credentials and TLS.
fn refusals(kit: Conformance) -> Conformance {
    kit.invalid_endpoints(&[], "options.url")
        .invalid_endpoints(&["127.0.0.1:9100"], "endpoints[0]")
        .invalid_options(r#"{"max_body_bytes": 0}"#, "options.max_body_bytes")
        .invalid_options(r#"{"include": [""]}"#, "options.include[0]")
        .invalid_options(r#"{"incude": ["up"]}"#, "options.incude")
}

#[test]
fn passes_the_conformance_kit() {
    // One target that accepts and never answers, one whose connects hang.
    let targets = SilentHttpNodes::start();
    refusals(Conformance::cluster(&targets.urls(), "{}"))
        .run_in_process::<Prometheus>()
        .assert_passed();
}

#[test]
fn passes_it_with_basic_auth_and_a_ca() {
    let dir = std::env::temp_dir().join(format!(
        "dbmon-prometheus-conformance-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("Prometheus CA").write(&dir);
    let targets = SilentHttpNodes::start();
    let tls = TlsConfig {
        ca: Some(ca),
        ..TlsConfig::default()
    };
    let half_login = r#"{"id": "c", "endpoints": ["http://127.0.0.1:9"], "interval_ms": 1000,
        "timeout_ms": 1000, "auth": {"password": "s3cret"}, "options": {}}"#;
    let report = refusals(Conformance::cluster(&targets.urls(), "{}"))
        .auth(Some("scraper"), Some("s3cret"))
        .tls(tls)
        .invalid(half_login, "auth.username")
        .run_in_process::<Prometheus>();
    std::fs::remove_dir_all(&dir).unwrap();
    report.assert_passed();
    assert!(!report.to_string().contains("s3cret"), "{report}");
}
