//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes,
//! against servers that never answer and against a temp PostgreSQL with a password login.

mod common;

use common::server::{PASSWORD, PASSWORD_USER, PgServer};
use dbmon_connector_api::testkit::{Conformance, SilentServer};
use dbmon_connector_postgres::Postgres;

/// The kit's refusals, the same whatever the valid configuration points at.
fn refusals(kit: Conformance) -> Conformance {
    kit.invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:5432", "127.0.0.1:5432"], "endpoints[1]")
        .invalid_options(r#"{"database": ""}"#, "options.database")
        .invalid_options(
            r#"{"expected_replicas": [" "]}"#,
            "options.expected_replicas[0]",
        )
        .invalid_options(
            r#"{"connections_used_degraded_percent": 150}"#,
            "options.connections_used_degraded_percent",
        )
        .invalid_options(r#"{"databse": "postgres"}"#, "options.databse")
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
    .command_args("activity", &["5"])
    .run_in_process::<Postgres>()
    .assert_passed();
}

#[test]
fn passes_it_against_a_real_server_with_a_password() {
    let server = PgServer::primary("pgconformance");
    let report = refusals(Conformance::cluster(&[&server.endpoint()], "{}"))
        .auth(Some(PASSWORD_USER), Some(PASSWORD))
        .command_args("activity", &["5"])
        .run_in_process::<Postgres>();
    report.assert_passed();
    let collect = report.check("collect").unwrap();
    assert!(collect.message.contains("report in"), "{report}");
    assert!(!report.to_string().contains(PASSWORD), "{report}");
    let activity = report.check("command activity").unwrap();
    assert!(activity.message.contains("bytes of output"), "{report}");
}
