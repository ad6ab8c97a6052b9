//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_cockroachdb::CockroachDb;
use dbmon_test_support::SilentHttpNodes;

#[test]
fn passes_the_conformance_kit() {
    // One node that accepts and never answers, one whose connects hang.
    let nodes = SilentHttpNodes::start();
    Conformance::cluster(&nodes.urls(), "{}")
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
