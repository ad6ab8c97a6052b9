//! The append script against a real redis-server: numbering, de-duplication by origin, a
//! caller behind the store, a store that lost reports.

use super::{
    Keys,
    script::{self, Append, Appended},
};
use crate::store::Origin;
use dbmon_test_support::redis::Server;
use std::sync::Arc;

async fn conn(server: &Server) -> super::conn::Conn {
    let options = super::SharedOptions {
        url: format!("redis://{}", server.address()),
        cluster: false,
        tls: None,
        auth: None,
    };
    super::conn::connect(&options, std::time::Duration::from_secs(3))
        .await
        .expect("connect")
}

fn origin(incarnation: u64, sequence: u64) -> Origin {
    Origin {
        collector: Arc::from("c1"),
        incarnation,
        sequence,
    }
}

async fn append(
    conn: &mut super::conn::Conn,
    base: u64,
    origin: Option<&Origin>,
    keyframe: bool,
) -> Appended {
    let keys = Keys::of("edge");
    let script = redis::Script::new(script::APPEND);
    script::append(
        &script,
        conn,
        Append {
            keys: &keys,
            base,
            origin,
            record: b"record",
            keyframe,
            schema_key: 7,
            schema: Some(b"schema"),
            info: Some(b"info"),
            max_len: 10,
            min_id: None,
        },
    )
    .await
    .expect("the script runs")
}

fn stored(answer: Appended) -> u64 {
    match answer {
        Appended::Stored { sequence, .. } => sequence,
        other => panic!("not stored: {other:?}"),
    }
}

#[tokio::test]
async fn the_script_numbers_reports_and_refuses_what_a_collector_sends_again() {
    let server = Server::start(&[]);
    let mut conn = conn(&server).await;
    assert_eq!(
        stored(append(&mut conn, 0, Some(&origin(1, 1)), true).await),
        1
    );
    assert_eq!(
        stored(append(&mut conn, 1, Some(&origin(1, 2)), false).await),
        2
    );
    // The same collector run's sequence 2 again, or an older one: a duplicate.
    assert_eq!(
        append(&mut conn, 2, Some(&origin(1, 2)), false).await,
        Appended::Duplicate
    );
    assert_eq!(
        append(&mut conn, 2, Some(&origin(1, 1)), false).await,
        Appended::Duplicate
    );
    // Another run of the collector starts from 1 again: new reports.
    assert_eq!(
        stored(append(&mut conn, 2, Some(&origin(2, 1)), false).await),
        3
    );
    // Reports without an origin (an all-in-one host's) are never duplicates.
    assert_eq!(stored(append(&mut conn, 3, None, false).await), 4);
    assert_eq!(stored(append(&mut conn, 4, None, false).await), 5);
    let len: usize = redis::cmd("XLEN")
        .arg(Keys::of("edge").reports)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(len, 5);
    let schema: Vec<u8> = redis::cmd("HGET")
        .arg(Keys::of("edge").schemas)
        .arg("7")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(schema, b"schema");
}

#[tokio::test]
async fn a_caller_behind_the_store_reads_first_and_a_store_that_lost_reports_takes_a_keyframe() {
    let server = Server::start(&[]);
    let mut conn = conn(&server).await;
    stored(append(&mut conn, 0, Some(&origin(1, 1)), true).await);
    stored(append(&mut conn, 1, Some(&origin(1, 2)), false).await);
    // Another server stored report 2: a caller whose history ends at 1 is behind, and
    // nothing is stored (its delta would be packed against the wrong report).
    assert_eq!(
        append(&mut conn, 1, Some(&origin(1, 3)), false).await,
        Appended::Behind { last: 2 }
    );
    // A caller whose history goes further than the store (Redis lost reports): a delta is
    // refused, a keyframe numbered above what the caller has, so no sequence repeats.
    assert_eq!(
        append(&mut conn, 9, Some(&origin(1, 3)), false).await,
        Appended::Rebase { last: 2 }
    );
    assert_eq!(
        stored(append(&mut conn, 9, Some(&origin(1, 3)), true).await),
        10
    );
    // The stream stays within MAXLEN ~ 10 (approximately: whole nodes are trimmed).
    for i in 0..300 {
        stored(append(&mut conn, 10 + i, Some(&origin(1, 4 + i)), true).await);
    }
    let len: usize = redis::cmd("XLEN")
        .arg(Keys::of("edge").reports)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(len < 120, "{len}");
}

#[test]
fn a_url_loses_its_password_in_logs() {
    assert_eq!(
        super::redacted("redis://user:s3cret@host:6379/0"),
        "redis://user:***@host:6379/0"
    );
    assert_eq!(
        super::redacted("rediss://:s3cret@host"),
        "rediss://:***@host"
    );
    assert_eq!(super::redacted("redis://host:6379"), "redis://host:6379");
    let options = super::SharedOptions {
        url: "redis://:s3cret@host".into(),
        cluster: false,
        tls: None,
        auth: Some(dbmon_connector_api::AuthConfig {
            username: None,
            password: Some("other-secret".into()),
        }),
    };
    let debug = format!("{options:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("other-secret"),
        "{debug}"
    );
}
