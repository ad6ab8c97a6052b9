//! The model without a terminal: sorting, filtering, history, keys, reconnect state.

use super::{
    cluster::HISTORY,
    format,
    keys::{self, Flow},
    model::{Link, Model, View},
    verdict::Verdict,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dbmon_proto as proto;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The instant the tests' reports are measured from.
pub const NOW: u64 = 1_750_000_000;

/// A report of `id` collected `ago` seconds before `NOW`, that took `ms`.
pub fn report(id: &str, status: proto::Status, ago: u64, ms: u32) -> proto::Report {
    proto::Report {
        cluster_id: id.into(),
        connector: "system".into(),
        sequence: NOW - ago,
        collected_at: Some(prost_types::Timestamp {
            seconds: (NOW - ago) as i64,
            nanos: 0,
        }),
        duration: Some(Duration::from_millis(ms.into()).try_into().unwrap()),
        status: status as i32,
        ..Default::default()
    }
}

/// A listing entry of `id` with a 10 s interval.
pub fn listed(id: &str) -> proto::Cluster {
    proto::Cluster {
        id: id.into(),
        connector: "system".into(),
        interval: Some(prost_types::Duration {
            seconds: 10,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// A model at `NOW` of `reports`, each cluster listed.
pub fn model_of(reports: Vec<proto::Report>) -> Model {
    let mut model = Model::new(
        "http://127.0.0.1:4000",
        UNIX_EPOCH + Duration::from_secs(NOW),
    );
    let mut ids: Vec<String> = reports.iter().map(|r| r.cluster_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let clusters: Vec<proto::Cluster> = ids
        .iter()
        .map(|id| {
            let mut cluster = listed(id);
            let last = reports.iter().rfind(|r| &r.cluster_id == id);
            cluster.collector = last.map(|r| r.collector.clone()).unwrap_or_default();
            cluster
        })
        .collect();
    model.load(&clusters, reports);
    model
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ids(model: &Model) -> Vec<&str> {
    model.rows().iter().map(|c| c.id.as_str()).collect()
}

fn five() -> Model {
    use proto::Status::*;
    model_of(vec![
        report("ok-b", Healthy, 2, 10),
        report("ok-a", Healthy, 2, 10),
        report("slow", Degraded, 2, 10),
        report("down", Unreachable, 2, 10),
        report("sick", Unhealthy, 2, 10),
    ])
}

#[test]
fn clusters_sort_worst_first_then_by_id() {
    let mut model = five();
    model
        .clusters
        .insert("new".into(), super::cluster::ClusterState::new("new"));
    assert_eq!(ids(&model), ["down", "sick", "slow", "new", "ok-a", "ok-b"]);
    assert_eq!(model.rows()[3].verdict, Verdict::Unknown);
}

#[test]
fn a_newer_report_moves_its_cluster_and_the_selection_follows_it() {
    let mut model = five();
    model.select_end(false);
    assert_eq!(model.selected.as_deref(), Some("ok-b"));
    model.record(report("ok-b", proto::Status::Unreachable, 1, 10));
    assert_eq!(ids(&model), ["down", "ok-b", "sick", "slow", "ok-a"]);
    assert_eq!(model.selected_index(), Some(1));
}

#[test]
fn an_older_or_repeated_report_changes_nothing() {
    let mut model = five();
    model.record(report("slow", proto::Status::Healthy, 2, 99));
    model.record(report("slow", proto::Status::Healthy, 5, 99));
    let slow = &model.clusters["slow"];
    assert_eq!(slow.verdict, Verdict::Degraded);
    assert_eq!(slow.durations.values().collect::<Vec<_>>(), [10.0]);
}

#[test]
fn the_filter_keeps_ids_containing_it_typed_live() {
    let mut model = five();
    assert_eq!(
        keys::handle(&mut model, key(KeyCode::Char('/'))),
        Flow::Continue
    );
    assert!(model.editing_filter);
    keys::handle(&mut model, key(KeyCode::Char('o')));
    assert_eq!(ids(&model), ["down", "slow", "ok-a", "ok-b"]);
    // `q` while typing is part of the filter, not quit.
    assert_eq!(
        keys::handle(&mut model, key(KeyCode::Char('k'))),
        Flow::Continue
    );
    assert_eq!(ids(&model), ["ok-a", "ok-b"]);
    assert_eq!(model.selected.as_deref(), Some("ok-a"));
    keys::handle(&mut model, key(KeyCode::Backspace));
    keys::handle(&mut model, key(KeyCode::Char('w')));
    keys::handle(&mut model, key(KeyCode::Enter));
    assert!(!model.editing_filter);
    assert_eq!(ids(&model), ["down", "slow"]);
    // Esc while typing clears it.
    keys::handle(&mut model, key(KeyCode::Char('/')));
    keys::handle(&mut model, key(KeyCode::Char('q')));
    assert_eq!(ids(&model), Vec::<&str>::new());
    keys::handle(&mut model, key(KeyCode::Esc));
    assert_eq!(ids(&model).len(), 5);
}

#[test]
fn arrows_and_jk_move_within_the_list_and_enter_opens_the_selected_detail() {
    let mut model = five();
    assert_eq!(model.selected.as_deref(), Some("down"));
    keys::handle(&mut model, key(KeyCode::Up));
    assert_eq!(model.selected.as_deref(), Some("down"));
    keys::handle(&mut model, key(KeyCode::Char('j')));
    keys::handle(&mut model, key(KeyCode::Down));
    assert_eq!(model.selected.as_deref(), Some("slow"));
    keys::handle(&mut model, key(KeyCode::Char('k')));
    keys::handle(&mut model, key(KeyCode::End));
    assert_eq!(model.selected.as_deref(), Some("ok-b"));
    keys::handle(&mut model, key(KeyCode::Down));
    assert_eq!(model.selected.as_deref(), Some("ok-b"));
    keys::handle(&mut model, key(KeyCode::Enter));
    assert_eq!(model.view, View::Detail("ok-b".into()));
    keys::handle(&mut model, key(KeyCode::Backspace));
    assert_eq!(model.view, View::List);
    keys::handle(&mut model, key(KeyCode::Enter));
    keys::handle(&mut model, key(KeyCode::Esc));
    assert_eq!(model.view, View::List);
}

#[test]
fn q_and_ctrl_c_quit_from_every_view() {
    let mut model = five();
    assert_eq!(
        keys::handle(&mut model, key(KeyCode::Char('q'))),
        Flow::Quit
    );
    keys::handle(&mut model, key(KeyCode::Enter));
    assert_eq!(
        keys::handle(&mut model, key(KeyCode::Char('q'))),
        Flow::Quit
    );
    keys::handle(&mut model, key(KeyCode::Char('/')));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(keys::handle(&mut model, ctrl_c), Flow::Quit);
}

#[test]
fn the_sparkline_holds_the_last_durations_oldest_first_and_stays_bounded() {
    let reports: Vec<proto::Report> = (0..HISTORY as u64 + 15)
        .map(|i| report("a", proto::Status::Healthy, 1000 - i, i as u32))
        .collect();
    let model = model_of(reports);
    let values: Vec<f64> = model.clusters["a"].durations.values().collect();
    assert_eq!(values.len(), HISTORY);
    assert_eq!(values[0], 15.0);
    assert_eq!(values[HISTORY - 1], (HISTORY + 14) as f64);
    assert_eq!(
        format::sparkline([0.0, 1.0, 7.0, 3.5].into_iter(), 8),
        "▁▂█▅"
    );
    assert_eq!(format::sparkline([1.0, 2.0, 4.0].into_iter(), 2), "▅█");
    assert_eq!(format::sparkline([0.0, 0.0].into_iter(), 2), "▁▁");
}

#[test]
fn reports_in_any_order_load_with_the_newest_as_latest() {
    use proto::Status::*;
    let model = model_of(vec![
        report("a", Degraded, 1, 3),
        report("a", Healthy, 30, 1),
        report("a", Unhealthy, 20, 2),
    ]);
    let a = &model.clusters["a"];
    assert_eq!(a.verdict, Verdict::Degraded);
    assert_eq!(a.durations.values().collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
}

#[test]
fn a_cluster_is_stale_after_three_intervals_without_a_report_or_when_listed_so() {
    let mut model = model_of(vec![report("a", proto::Status::Healthy, 29, 1)]);
    assert!(!model.clusters["a"].stale(model.now));
    model.now += Duration::from_secs(2);
    assert!(model.clusters["a"].stale(model.now));
    let mut listing = listed("b");
    listing.stale = true;
    listing.stale_reason = "no report for 3 intervals".into();
    model.load(&[listed("a"), listing], vec![]);
    assert!(model.clusters["b"].stale(model.now));
    assert_eq!(model.clusters["b"].notes, ["no report for 3 intervals"]);
    model.record(report("b", proto::Status::Healthy, 0, 1));
    assert!(!model.clusters["b"].stale(model.now));
}

#[test]
fn a_reload_drops_unlisted_clusters_and_resumes_from_each_newest_report() {
    let mut model = five();
    model.disconnected(3, "connection refused".into());
    assert!(matches!(model.link, Link::Disconnected { attempt: 3, .. }));
    let resume = model.resume_points();
    assert_eq!(resume["slow"].seconds, (NOW - 2) as i64);
    model.load(
        &[listed("slow")],
        vec![report("slow", proto::Status::Healthy, 1, 5)],
    );
    assert_eq!(model.link, Link::Live);
    assert_eq!(ids(&model), ["slow"]);
    assert_eq!(model.selected.as_deref(), Some("slow"));
    assert_eq!(model.clusters["slow"].verdict, Verdict::Healthy);
}

#[test]
fn values_ages_and_backoff_read_well() {
    assert_eq!(format::age(Some(Duration::from_secs(4))), "4s");
    assert_eq!(format::age(Some(Duration::from_secs(125))), "2m05s");
    assert_eq!(
        format::age(Some(Duration::from_secs(3 * 3600 + 600))),
        "3h10m"
    );
    assert_eq!(format::age(None), "-");
    assert_eq!(format::value(1536.0 * 1024.0, "bytes"), "1.5 MiB");
    assert_eq!(format::value(12.345, "percent"), "12.35%");
    assert_eq!(format::value(0.25, "seconds"), "0.25 seconds");
    assert_eq!(format::value(3.0, ""), "3");
    assert_eq!(super::link::backoff(1), Duration::from_millis(500));
    assert_eq!(super::link::backoff(3), Duration::from_secs(2));
    assert_eq!(super::link::backoff(40), Duration::from_secs(10));
    let _ = SystemTime::now();
}
