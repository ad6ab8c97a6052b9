//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_http::Http;
use dbmon_test_support::{HttpServer, Reply, SilentHttpNodes};

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

#[test]
fn passes_the_conformance_kit_against_an_answering_api() {
    // The kit runs its own runtime and blocks this thread: the server runs on a runtime of its
    // own, kept while the kit runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        let server = HttpServer::start().await;
        server.set("/health", Reply::json(r#"{"up": 1, "state": "ok"}"#));
        server
    });
    let url = server.url("");
    let options = r#"{"requests": [{"path": "/health", "extract": [{"name": "up", "path": "$.up"}],
        "node_status": {"path": "$.state", "live": ["ok"]}}]}"#;
    Conformance::cluster(&[&url], options)
        .run_in_process::<Http>()
        .assert_passed();
    assert!(server.hits("/health") > 0);
    drop(server);
}
