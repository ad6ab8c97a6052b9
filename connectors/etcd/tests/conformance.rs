//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_etcd::Etcd;
use dbmon_test_support::SilentHttpNodes;

#[test]
fn passes_the_conformance_kit() {
    // One member that accepts and never answers, one whose connects hang.
    let members = SilentHttpNodes::start();
    Conformance::cluster(&members.urls(), "{}")
        .invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:2379"], "endpoints[0]")
        .invalid_options(
            r#"{"db_quota_used_degraded_percent": 150}"#,
            "options.db_quota_used_degraded_percent",
        )
        .invalid_options(r#"{"raft_index_spread": 1}"#, "options.raft_index_spread")
        .run_in_process::<Etcd>()
        .assert_passed();
}
