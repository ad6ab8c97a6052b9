//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_http::Http;
use dbmon_test_support::SilentHttpNodes;

#[test]
fn passes_the_conformance_kit() {
    // One node that accepts and never answers, one whose connects hang.
    let nodes = SilentHttpNodes::start();
    let good =
        r#"{"requests": [{"path": "/health", "extract": [{"name": "up", "path": "$.up"}]}]}"#;
    Conformance::cluster(&nodes.urls(), good)
        .invalid_endpoints(&[], "endpoints")
        .invalid_endpoints(&["127.0.0.1:9200"], "endpoints[0]")
        .invalid_options(r#"{"requests": []}"#, "options.requests")
        .invalid_options(
            r#"{"requests": [{"path": "/", "method": "FETCH"}]}"#,
            "options.requests[0].method",
        )
        .invalid_options(
            r#"{"requests": [{"path": "/", "extract": [{"name": "a", "path": "$.["}]}]}"#,
            "options.requests[0].extract[0].path",
        )
        .invalid_options(
            r#"{"requests": [{"path": "/a", "extract": [{"name": "a"}]}, {"path": "/b", "extract": [{"name": "a"}]}]}"#,
            "options.requests[1].extract[0].name",
        )
        .invalid_options(
            r#"{"requests": [{"path": "/", "timeout": "2s"}]}"#,
            "options.requests[0].timeout",
        )
        .invalid_options(
            r#"{"requests": [{"path": "/", "extract": [{"name": "a", "colour": 1}]}]}"#,
            "options.requests[0].extract[0].colour",
        )
        .invalid_options(r#"{"requests": [], "max_body": 1}"#, "options.max_body")
        .run_in_process::<Http>()
        .assert_passed();
}
