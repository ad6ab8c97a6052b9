//! The cluster's `auth:` is sent as HTTP basic authentication.

mod common;

use common::{collect, connector, url};
use dbmon_connector_api::{AuthConfig, ClusterConfig, Connector, Status};
use dbmon_connector_prometheus::Prometheus;
use dbmon_test_support::{HttpServer, Reply};

fn with_auth(
    target: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> ClusterConfig<dbmon_connector_prometheus::Options> {
    let mut config = ClusterConfig::new("prom", url(target));
    config.auth = Some(AuthConfig {
        username: username.map(String::from),
        password: password.map(String::from),
    });
    config
}

fn authorization(server: &HttpServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.headers.get("authorization").cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_sent_as_basic_auth() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("a 1\n"));
    let config = with_auth(&server.url("/metrics"), Some("prom"), Some("secret"));
    let Ok(prometheus) = <Prometheus as Connector>::new(config) else {
        panic!("auth refused");
    };
    let report = collect(&prometheus).await;
    assert_eq!(report.status(), Status::Healthy);
    // base64("prom:secret")
    assert_eq!(
        authorization(&server),
        [Some("Basic cHJvbTpzZWNyZXQ=".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_auth_sends_no_credentials() {
    let server = HttpServer::start().await;
    server.set("/metrics", Reply::text("a 1\n"));
    collect(&connector(url(&server.url("/metrics")), &[])).await;
    assert_eq!(authorization(&server), [None]);
}

#[test]
fn a_password_needs_a_username() {
    let config = with_auth("http://h/metrics", None, Some("secret"));
    match <Prometheus as Connector>::new(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => assert_eq!(
            err.to_string(),
            "auth.username: a password needs a username"
        ),
    }
}
