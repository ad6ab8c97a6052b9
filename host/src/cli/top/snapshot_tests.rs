//! The screens as drawn into a fixed-size `TestBackend`: the list, the detail, the banner.

use super::{
    draw::draw,
    model::Model,
    model_tests::{listed, model_of, report},
};
use dbmon_proto as proto;
use ratatui::{
    Terminal,
    backend::TestBackend,
    buffer::Buffer,
    style::{Color, Modifier},
};

const WIDTH: u16 = 100;
const HEIGHT: u16 = 30;

fn render(model: &Model) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer's text, one string per row, trailing blanks cut.
fn lines(buffer: &Buffer) -> Vec<String> {
    (0..buffer.area.height)
        .map(|y| {
            let row: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            row.trim_end().to_string()
        })
        .collect()
}

fn metric(name: &str, value: f64, unit: &str) -> proto::Metric {
    proto::Metric {
        name: name.into(),
        value,
        unit: unit.into(),
        ..Default::default()
    }
}

/// Four clusters: one unreachable, one degraded with reasons, two healthy with metrics and a
/// node, one of them collected by a collector; several reports each.
fn known() -> Model {
    use proto::Status::*;
    let mut reports = Vec::new();
    for (i, ms) in [4, 8, 2, 6, 12].into_iter().enumerate() {
        let ago = 50 - 10 * i as u64;
        let mut web = report("web", Healthy, ago, ms);
        web.metrics = vec![
            metric("load1", 0.42, ""),
            metric("memory_used", 3.5 * 1024.0 * 1024.0 * 1024.0, "bytes"),
            metric("cpu_busy", 12.5, "percent"),
        ];
        web.nodes = vec![proto::Node {
            id: "web-1".into(),
            address: "10.0.0.7:22".into(),
            status: proto::NodeStatus::Live as i32,
            metrics: web.metrics.clone(),
            ..Default::default()
        }];
        web.sequence = i as u64 + 1;
        reports.push(web);
        let mut cache = report("cache", Degraded, ago + 3, ms * 2);
        cache.reasons = vec!["replica lag 12 s".into(), "memory 91% of maxmemory".into()];
        cache.metrics = vec![metric("clients", 31.0, "")];
        reports.push(cache);
    }
    let mut db = report("db-east", Unreachable, 4, 5000);
    db.error = Some("connection refused".into());
    db.reasons = vec!["connection refused (3 failures in a row)".into()];
    db.consecutive_failures = 3;
    reports.push(db);
    let mut far = report("far", Healthy, 7, 30);
    far.collector = "edge-1".into();
    reports.push(far);
    model_of(reports)
}

/// A full screen: `top` rows, blank rows, then `footer` on the last row.
fn screen(top: &[&str], footer: &str) -> Vec<String> {
    let mut rows: Vec<String> = top.iter().map(|l| l.to_string()).collect();
    rows.resize(HEIGHT as usize - 1, String::new());
    rows.push(footer.to_string());
    rows
}

const TITLE: &str =
    " dbmon top  http://127.0.0.1:4000  4 clusters  1 unreachable  1 degraded  2 healthy";

const LIST: [&str; 5] = [
    "  ID      VERDICT       AGE COLLECTOR KEY METRICS                    DURATION (ms) REASONS",
    "▶ db-east ● unreachable 4s  -                                        █ 5000        connection refuse",
    "  cache   ● degraded    13s -         clients=31                     ▃▆▂▅█ 24      replica lag 12 s;",
    "  far     ● healthy     7s  edge-1                                   █ 30",
    "  web     ● healthy     10s -         load1=0.42 memory_used=3.5 GiB ▃▆▂▅█ 12",
];

const LIST_KEYS: &str = " ↑↓/jk  move   Enter  detail   /  filter   q  quit";

#[test]
fn the_list_shows_clusters_worst_first_with_verdict_age_metrics_sparkline_and_reasons() {
    let buffer = render(&known());
    let mut top = vec![TITLE];
    top.extend(LIST);
    assert_eq!(lines(&buffer), screen(&top, LIST_KEYS));
    // Verdicts in their colours; the selected row reversed.
    let verdict_at = |row: u16| buffer[(10, row)].fg;
    assert_eq!(verdict_at(2), Color::Magenta);
    assert_eq!(verdict_at(3), Color::Yellow);
    assert_eq!(verdict_at(5), Color::Green);
    assert!(buffer[(2, 2)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(2, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_detail_shows_the_clusters_sparkline_reasons_nodes_and_metrics_with_units() {
    let mut model = known();
    model.select_end(false);
    model.open_detail();
    let expected = screen(
        &[
            TITLE,
            " web ● healthy   connector system",
            " last report 10s ago   sequence 5   took 12 ms",
            "┌ collection duration, ms (last 5) ────────────────────────────────────────────────────────────────┐",
            "│ ▂  █                                                                                             │",
            "│▅█▂██                                                                                             │",
            "└──────────────────────────────────────────────────────────────────────────────────────────────────┘",
            " Reasons (0)",
            "   none",
            "",
            " Nodes (1)",
            "   web-1  10.0.0.7:22  live          3 metrics",
            "",
            " Metrics (3)",
            "   load1        0.42",
            "   memory_used  3.5 GiB",
            "   cpu_busy     12.5%",
        ],
        " Esc  back   ↑↓/jk  scroll   q  quit",
    );
    assert_eq!(lines(&render(&model)), expected);
}

#[test]
fn the_detail_of_an_unreachable_cluster_shows_its_reasons_and_error() {
    let mut model = known();
    model.open_detail();
    let got = lines(&render(&model));
    assert_eq!(got[1], " db-east ● unreachable   connector system");
    assert_eq!(
        got[2],
        " last report 4s ago   sequence 1749999996   took 5000 ms   3 failures in a row"
    );
    assert_eq!(
        got[7..12],
        [
            " Reasons (1)",
            "   - connection refused (3 failures in a row)",
            " Error: connection refused",
            "",
            " Nodes (0)",
        ]
    );
}

#[test]
fn a_broken_stream_shows_the_disconnected_banner_above_the_list_and_the_filter_as_typed() {
    let mut model = known();
    model.disconnected(
        2,
        "cannot reach the dbmon server: connection refused".into(),
    );
    model.editing_filter = true;
    model.set_filter("e".into());
    let mut top = vec![
        TITLE,
        " disconnected from http://127.0.0.1:4000 — reconnecting (attempt 2)",
        " cannot reach the dbmon server: connection refused",
        LIST[0],
    ];
    // `far` has no `e`; the selection stays on db-east.
    top.extend([LIST[1], LIST[2], LIST[4]]);
    let buffer = render(&model);
    assert_eq!(
        lines(&buffer),
        screen(&top, " filter  /e█   Enter keep  Esc clear")
    );
    assert_eq!(buffer[(5, 1)].bg, Color::Red);
    // Live again: the banner is gone.
    let listing: Vec<proto::Cluster> = model.clusters.keys().map(|id| listed(id)).collect();
    model.load(&listing, vec![]);
    assert!(lines(&render(&model))[1].starts_with("  ID      VERDICT"));
}

#[test]
fn a_server_without_clusters_and_a_filter_matching_none_say_so() {
    let mut model = Model::new("http://127.0.0.1:4000", std::time::UNIX_EPOCH);
    assert_eq!(
        lines(&render(&model))[1],
        " no clusters configured on this server"
    );
    model.load(&[listed("a")], vec![]);
    model.set_filter("zz".into());
    assert_eq!(lines(&render(&model))[1], " no cluster id contains 'zz'");
    model.set_filter(String::new());
    let got = lines(&render(&model));
    assert_eq!(got[2], "▶ a  ● unknown -");
    let _ = report;
}
