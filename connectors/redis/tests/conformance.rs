//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes,
//! against servers that never answer and against a real redis-server (for the slowlog command).

mod common;

use common::Server;
use dbmon_connector_api::{
    TlsConfig,
    testkit::{Conformance, SilentServer},
};
use dbmon_connector_redis::Redis;

/// The kit's refusals, the same whatever the valid configuration logs in with.
fn refusals(kit: Conformance) -> Conformance {
    let user_without_password = r#"{"id": "c", "endpoints": ["127.0.0.1:6379"],
        "interval_ms": 1000, "timeout_ms": 1000, "auth": {"username": "mon"}, "options": {}}"#;
    kit.invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:0"], "endpoints[0]")
        .invalid_endpoints(&["redis://mon:pw@127.0.0.1:6379"], "endpoints[0]")
        .invalid_options(
            r#"{"memory_used_degraded_percent": 150}"#,
            "options.memory_used_degraded_percent",
        )
        .invalid_options(
            r#"{"min_replica_per_master": 1}"#,
            "options.min_replica_per_master",
        )
        .invalid(user_without_password, "auth.password")
}

#[test]
fn passes_the_conformance_kit_against_silent_servers() {
    // One server that accepts and never answers, one whose connects hang.
    let silent = SilentServer::start().unwrap();
    let blackhole = SilentServer::blackhole().unwrap();
    refusals(Conformance::cluster(
        &[&silent.endpoint(), &blackhole.endpoint()],
        "{}",
    ))
    .command_args("slowlog", &["5"])
    .run_in_process::<Redis>()
    .assert_passed();
}

#[test]
fn passes_it_over_tls_to_silent_servers() {
    // The handshake is what never ends: the server accepts and sends nothing.
    let silent = SilentServer::start().unwrap();
    let endpoint = format!("rediss://{}", silent.endpoint());
    let tls = TlsConfig {
        insecure_skip_verify: true,
        ..TlsConfig::default()
    };
    refusals(Conformance::cluster(&[&endpoint], "{}"))
        .tls(tls)
        .invalid_endpoints(&["redis://127.0.0.1:6379"], "endpoints[0]")
        .run_in_process::<Redis>()
        .assert_passed();
}

#[test]
fn passes_it_against_a_real_server_with_a_password() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let report = refusals(Conformance::cluster(&[&server.address()], "{}"))
        .auth(None, Some("s3cret"))
        .command_args("slowlog", &["5"])
        .run_in_process::<Redis>();
    report.assert_passed();
    let collect = report.check("collect").unwrap();
    assert!(collect.message.starts_with("HEALTHY report"), "{report}");
    let slowlog = report.check("command slowlog").unwrap();
    assert!(slowlog.message.contains("bytes of output"), "{report}");
}
