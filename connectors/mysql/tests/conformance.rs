//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes,
//! against servers that never answer and against a MariaDB of the test's own with a password
//! login (so that `processlist` has threads to show).

mod common;

use common::server::{MariaDb, PASSWORD, PASSWORD_USER};
use dbmon_connector_api::testkit::{Conformance, SilentServer};
use dbmon_connector_mysql::Mysql;

/// The kit's refusals, the same whatever the valid configuration points at.
fn refusals(kit: Conformance) -> Conformance {
    let password_without_user = r#"{"id": "c", "endpoints": ["127.0.0.1:3306"],
        "interval_ms": 1000, "timeout_ms": 1000, "auth": {"password": "x"}, "options": {}}"#;
    kit.invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(
            &["127.0.0.1:3306", "mysql://127.0.0.1:3306"],
            "endpoints[1]",
        )
        .invalid_endpoints(&["mysql://monitor:pw@127.0.0.1:3306"], "endpoints[0]")
        .invalid_endpoints(&["127.0.0.1:0"], "endpoints[0]")
        .invalid_options(
            r#"{"connections_used_degraded_percent": 150}"#,
            "options.connections_used_degraded_percent",
        )
        .invalid_options(
            r#"{"replication_seconds_behind_degraded": -1}"#,
            "options.replication_seconds_behind_degraded",
        )
        .invalid_options(
            r#"{"replication_seconds_behind": 30}"#,
            "options.replication_seconds_behind",
        )
        .invalid(password_without_user, "auth.username")
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
    .command_args("processlist", &["5"])
    .run_in_process::<Mysql>()
    .assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_it_against_a_real_server_with_a_password() {
    let server = MariaDb::start(1, &[]).await;
    let report = refusals(Conformance::cluster(&[&server.endpoint()], "{}"))
        .auth(Some(PASSWORD_USER), Some(PASSWORD))
        .command_args("processlist", &["5"])
        .run_in_process::<Mysql>();
    report.assert_passed();
    let collect = report.check("collect").unwrap();
    assert!(collect.message.starts_with("HEALTHY report"), "{report}");
    let processlist = report.check("command processlist").unwrap();
    assert!(processlist.message.contains("bytes of output"), "{report}");
    assert!(!report.to_string().contains(PASSWORD), "{report}");
}
