//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_rabbitmq::RabbitMq;
use dbmon_test_support::SilentHttpNodes;

#[test]
fn passes_the_conformance_kit() {
    // One node that accepts and never answers, one whose connects hang.
    let nodes = SilentHttpNodes::start();
    Conformance::cluster(&nodes.urls(), "{}")
        .auth(Some("dbmon-monitor"), Some("s3cret"))
        .invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:15672"], "endpoints[0]")
        .invalid_options(r#"{"max_queues": 0}"#, "options.max_queues")
        .invalid_options(r#"{"max_queues": 501}"#, "options.max_queues")
        .invalid_options(
            r#"{"ready_without_consumers": 10}"#,
            "options.ready_without_consumers",
        )
        .invalid_options(
            r#"{"ready_without_consumers_degraded": -1}"#,
            "options.ready_without_consumers_degraded",
        )
        .invalid(
            r#"{"id":"c","interval_ms":10000,"timeout_ms":2000,"endpoints":["http://127.0.0.1:15672"],"options":{}}"#,
            "auth",
        )
        .run_in_process::<RabbitMq>()
        .assert_passed();
}
