//! etcd authentication: a real member with auth enabled, and a fake one whose token expires.

mod common;

use common::{build, collect, etcd::Cluster, fake::Fake};
use dbmon_connector_api::Status;
use dbmon_connector_etcd::Options;
use dbmon_test_support::ReportExt;

/// Adds `root` (needed to enable auth) and `mon`, then enables authentication.
async fn enable_auth(cluster: &Cluster) {
    for (path, body) in [
        (
            "/v3/auth/user/add",
            r#"{"name":"root","password":"root-secret"}"#,
        ),
        ("/v3/auth/role/add", r#"{"name":"root"}"#),
        ("/v3/auth/user/grant", r#"{"user":"root","role":"root"}"#),
        (
            "/v3/auth/user/add",
            r#"{"name":"mon","password":"mon-secret"}"#,
        ),
        ("/v3/auth/enable", "{}"),
    ] {
        let answer = cluster.post(path, body, None).await;
        assert!(!answer.contains("error"), "{path}: {answer}");
    }
    let put = cluster
        .post("/v3/kv/put", r#"{"key":"YQ==","value":"Yg=="}"#, None)
        .await;
    assert!(put.contains("user name is empty"), "auth is not on: {put}");
}

#[tokio::test(flavor = "multi_thread")]
async fn right_and_wrong_passwords() {
    let cluster = Cluster::start("u", 1, &[]).await;
    enable_auth(&cluster).await;

    let good = build(
        Options::default(),
        &cluster.endpoints(),
        Some(("mon", "mon-secret")),
    )
    .unwrap();
    let report = collect(&good).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(report.expect_value("members_healthy"), 1.0);
    // The token is kept: a second collection works as well.
    assert_eq!(collect(&good).await.status(), Status::Healthy);

    let bad = build(
        Options::default(),
        &cluster.endpoints(),
        Some(("mon", "not-the-password")),
    )
    .unwrap();
    let report = collect(&bad).await;
    assert_eq!(report.status(), Status::Degraded, "{report:#?}");
    let reason = report.reasons_with("cannot authenticate as etcd user 'mon': ");
    assert_eq!(reason.len(), 1, "{report:?}");
    assert!(
        reason[0].contains("authentication failed, invalid user ID or password"),
        "{}",
        reason[0]
    );
    for text in report.reasons() {
        assert!(!text.contains("not-the-password"), "{text}");
    }
    // etcd 3.4 serves status without a token: the rest of the report is there.
    assert_eq!(report.expect_value("members"), 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_renewed_once() {
    let fake = Fake::start(3).await;
    fake.set(|s| s.password = Some("pw".into()));
    let etcd = build(Options::default(), &fake.endpoints(), Some(("mon", "pw"))).unwrap();
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(fake.state.lock().unwrap().issued, 1);
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(
        fake.state.lock().unwrap().issued,
        1,
        "the token is kept between collections"
    );

    fake.set(|s| s.expired = true);
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
    assert_eq!(
        fake.state.lock().unwrap().issued,
        2,
        "one new token for all calls"
    );
    // Every gateway call carried a token.
    for server in &fake.servers {
        for r in server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/v3/") && !r.path.contains("auth"))
        {
            assert!(
                r.headers.contains_key("authorization"),
                "{} without token",
                r.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_for_a_cluster_without_auth_are_harmless() {
    let fake = Fake::start(1).await;
    let etcd = build(Options::default(), &fake.endpoints(), Some(("mon", "pw"))).unwrap();
    let report = collect(&etcd).await;
    assert_eq!(report.status(), Status::Healthy, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_where_every_call_needs_a_token() {
    let fake = Fake::start(2).await;
    fake.set(|s| s.password = Some("pw".into()));
    let etcd = build(
        Options::default(),
        &fake.endpoints(),
        Some(("mon", "wrong-pw-123")),
    )
    .unwrap();
    let error = common::try_collect(&etcd)
        .await
        .expect_err("nothing can be read");
    assert!(
        error.starts_with("no member answers: cannot authenticate as etcd user 'mon': POST "),
        "{error}"
    );
    assert!(error.contains("invalid user ID or password"), "{error}");
    assert!(error.contains("etcdserver: user name is empty"), "{error}");
    assert!(!error.contains("wrong-pw-123"), "{error}");
}
