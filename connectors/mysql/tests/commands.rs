//! The `processlist` command against a server of the test's own, with threads the test made,
//! checked against the server's own process list.

mod common;

use common::{closed_port, config, connector, ctx_with, server::MariaDb};
use dbmon_connector_api::Connector;
use dbmon_connector_mysql::{Mysql, Options};
use mysql_async::prelude::Queryable;
use std::time::Duration;

async fn run(mysql: &Mysql, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    mysql
        .run_command("processlist", &args, &ctx_with(Duration::from_secs(5)))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processlist_shows_each_nodes_threads_longest_first() {
    let server = MariaDb::start(1, &[]).await;
    // One thread runs a statement; two sleep.
    let mut sleeping = vec![server.conn().await, server.conn().await];
    let mut busy = server.conn().await;
    let busy_id = busy.id();
    let query = tokio::spawn(async move {
        let _ = busy
            .query_drop("SELECT SLEEP(20) AS dbmon_test_sleep")
            .await;
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let down = format!("127.0.0.1:{}", closed_port());
    let e = server.endpoint();
    let mysql = connector(config(&[e.clone(), down.clone()], Options::default()));

    let text = run(&mysql, &[]).await.unwrap();
    let (first, second) = text.split_once("\n\n").expect("two sections");
    let lines: Vec<&str> = first.lines().collect();
    // What the server lists, but for the connector's own thread.
    let ids: Vec<u64> = sleeping[0]
        .query("SELECT ID FROM information_schema.PROCESSLIST")
        .await
        .unwrap();
    // The server lists the connector's thread and this one's; the table leaves out its own.
    assert_eq!(
        lines[0],
        format!(
            "node {e}: {} threads, longest in its state first",
            ids.len() - 1
        ),
        "{text}"
    );
    assert!(lines[1].starts_with("ID "), "{text}");
    assert!(lines[1].ends_with("INFO"), "{text}");
    let busy_line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{busy_id} ")))
        .unwrap_or_else(|| panic!("no thread {busy_id}: {text}"));
    assert!(
        busy_line.contains("Query") && busy_line.contains("SELECT SLEEP(20) AS dbmon_test_sleep"),
        "{busy_line}"
    );
    assert!(
        lines[2..]
            .iter()
            .all(|l| !l.contains("information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")),
        "the connector's own statement is left out: {text}"
    );
    assert!(
        second.starts_with(&format!("node {down}: not answering: cannot connect")),
        "{second}"
    );

    // At most ROWS threads: the longest in its state first.
    let text = run(&mysql, &["1"]).await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "node {e}: 1 of {} threads, longest in its state first",
            ids.len() - 1
        )
    );
    // The one shown has been longest in its state, as the server counts (TIME may tick
    // between the two reads).
    let shown: f64 = lines[2]
        .split_whitespace()
        .find_map(|w| w.strip_suffix('s')?.parse().ok())
        .unwrap();
    let longest: Option<u64> = sleeping[0]
        .query_first("SELECT MAX(TIME) FROM information_schema.PROCESSLIST")
        .await
        .unwrap();
    let longest = longest.unwrap() as f64;
    assert!(
        shown >= longest - 1.0 && shown <= longest,
        "{shown} vs {longest}: {text}"
    );
    let first_section = text.split_once("\n\n").unwrap().0;
    assert_eq!(first_section.lines().count(), 3, "{text}");

    for bad in [&["0"][..], &["many"], &["1", "2"]] {
        let e = run(&mysql, bad).await.unwrap_err();
        assert!(e.contains("processlist takes"), "{bad:?}: {e}");
    }
    let unknown = mysql
        .run_command("nope", &[], &ctx_with(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("nope"), "{unknown}");

    query.abort();
    sleeping.clear();
}

#[tokio::test]
async fn processlist_with_no_node_answering_is_an_error() {
    let down = format!("127.0.0.1:{}", closed_port());
    let mysql = connector(config(&[&down], Options::default()));
    let e = run(&mysql, &[]).await.unwrap_err();
    assert!(
        e.starts_with(&format!("node {down}: cannot connect")),
        "{e}"
    );
}
