//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

mod common;

use common::nats::Cluster;
use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_nats::Nats;
use dbmon_test_support::SilentHttpNodes;

#[test]
fn passes_the_conformance_kit() {
    // One server that accepts and never answers, one whose connects hang.
    let servers = SilentHttpNodes::start();
    Conformance::cluster(&servers.urls(), "{}")
        .invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:8222"], "endpoints[0]")
        .invalid_endpoints(&["http://127.0.0.1:8222/varz"], "endpoints[0]")
        .invalid_options(
            r#"{"consumer_pending_degraded": 0}"#,
            "options.consumer_pending_degraded",
        )
        .invalid_options(r#"{"jetstream": "maybe"}"#, "options.jetstream")
        .invalid_options(r#"{"consumer_pending": 1}"#, "options.consumer_pending")
        .run_in_process::<Nats>()
        .assert_passed();
}

#[test]
fn passes_the_conformance_kit_against_a_real_cluster() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cluster = runtime.block_on(Cluster::three("k"));
    let endpoints = cluster.endpoints();
    let endpoints: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    Conformance::cluster(&endpoints, r#"{"consumer_pending_degraded": 100}"#)
        .run_in_process::<Nats>()
        .assert_passed();
}
