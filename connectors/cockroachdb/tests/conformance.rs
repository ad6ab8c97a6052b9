//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::{Conformance, SilentServer};
use dbmon_connector_cockroachdb::CockroachDb;

#[test]
fn passes_the_conformance_kit() {
    // One node that accepts and never answers, one whose connects hang.
    let silent = SilentServer::start().unwrap();
    let blackhole = SilentServer::blackhole().unwrap();
    let silent = format!("http://{}", silent.endpoint());
    let blackhole = format!("http://{}", blackhole.endpoint());
    Conformance::cluster(&[&silent, &blackhole], "{}")
        .invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["roach1:8080"], "endpoints[0]")
        .invalid_endpoints(&["http://roach1:8080/_status/vars"], "endpoints[0]")
        .invalid_options(r#"{"max_offset": "soon"}"#, "options.max_offset")
        .invalid_options(
            r#"{"capacity_degraded_percent": 150}"#,
            "options.capacity_degraded_percent",
        )
        .invalid_options(r#"{"max_ofset": "1s"}"#, "options.max_ofset")
        .run_in_process::<CockroachDb>()
        .assert_passed();
}
