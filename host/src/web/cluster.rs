//! `GET /cluster/{id}`: one cluster's verdict, nodes and metrics, each metric with a plot over
//! the stored history.

use super::{
    html::{badge, escape, page, time},
    overview::reasons,
    rows::Row,
    svg,
};
use crate::store::{ClusterSlot, Report, Schema};
use std::{collections::HashMap, fmt::Write as _, sync::Arc};

/// Series shown on one page; the rest are counted.
pub const MAX_SERIES: usize = 200;

/// The page of one cluster, whose overview row is `row`.
pub fn render(slot: &ClusterSlot, row: &Row) -> String {
    let mut history = slot.reports(0, None);
    history.reverse();
    let id = escape(&row.id);
    let stale = if row.stale { " stale" } else { "" };
    let mut main = format!(
        "<section id=\"head\" class=\"v-{verdict}{stale}\" data-cluster=\"{id}\" \
         data-stale-after=\"{after}\">\n<h1>{id} {badge}</h1>\n\
         <div data-f=\"reasons\">{reasons}</div>\n<dl>\
         <dt>Connector</dt><dd>{connector}</dd>\
         <dt>Collector</dt><dd data-f=\"collector\">{collector}</dd>\
         <dt>Last report</dt><dd>{time}</dd>\
         <dt>Reports stored</dt><dd>{stored}</dd>\
         <dt>Interval</dt><dd>{interval}</dd></dl>\n</section>\n",
        verdict = escape(row.verdict),
        after = row.stale_after_ms,
        badge = badge(row.verdict),
        reasons = reasons(row),
        connector = escape(&row.connector),
        collector = if row.collector.is_empty() {
            "this host".to_string()
        } else {
            escape(&row.collector)
        },
        time = time(row.last_report_at.as_deref(), row.last_report_ms),
        stored = history.len(),
        interval = humantime::format_duration(slot.info.interval),
    );
    main.push_str("<div id=\"detail\">\n");
    match history.last() {
        Some(latest) => {
            main.push_str(&nodes(latest));
            main.push_str(&metrics(latest, &history));
        }
        None => main.push_str("<p>No report yet.</p>\n"),
    }
    main.push_str("</div>\n");
    page(&format!("dbmon: {}", row.id), "../", &main)
}

/// The page for a cluster id the store does not hold.
pub fn not_found(id: &str) -> String {
    let main = format!(
        "<h1>Unknown cluster</h1>\n<p>No cluster <code>{}</code> is configured or pushed by \
         a collector. <a href=\"../\">Every cluster</a>.</p>\n",
        escape(id)
    );
    page("dbmon: unknown cluster", "../", &main)
}

fn nodes(latest: &Report) -> String {
    let schema = &latest.schema;
    if schema.node_defs().is_empty() {
        return "<h2>Nodes</h2>\n<p>The report names no nodes.</p>\n".into();
    }
    let mut out = String::from(
        "<h2>Nodes</h2>\n<table id=\"nodes\">\n<caption>Nodes in the latest report</caption>\n\
         <thead><tr><th scope=\"col\">Node</th><th scope=\"col\">Address</th>\
         <th scope=\"col\">Status</th></tr></thead>\n<tbody>\n",
    );
    for (node, status) in schema.nodes().zip(latest.node_status.iter()) {
        let status = status.as_str();
        let _ = writeln!(
            out,
            "<tr class=\"n-{s}\"><th scope=\"row\">{}</th><td>{}</td><td>{s}</td></tr>",
            escape(node.id),
            escape(node.address),
            s = escape(status),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn metrics(latest: &Arc<Report>, history: &[Arc<Report>]) -> String {
    let schema = &latest.schema;
    let series = schema.series();
    if series.is_empty() {
        return "<h2>Metrics</h2>\n<p>The latest report has no metrics.</p>\n".into();
    }
    let mut out = String::from(
        "<h2>Metrics</h2>\n<table id=\"metrics\">\n<caption>Latest values, and each over the \
         stored reports (oldest on the left)</caption>\n<thead><tr><th scope=\"col\">Metric</th>\
         <th scope=\"col\">Labels</th><th scope=\"col\">Value</th>\
         <th scope=\"col\" class=\"wide\">History</th></tr></thead>\n<tbody>\n",
    );
    let mut lookup = Lookup::default();
    for (i, def) in series.iter().enumerate().take(MAX_SERIES) {
        let name = schema.str(def.name);
        let unit = schema.str(def.unit);
        let key = series_key(schema, i);
        let values: Vec<f64> = history
            .iter()
            .map(|r| lookup.value(r, latest, i, &key))
            .collect();
        let mut labels: Vec<String> = Vec::new();
        if def.node != 0
            && let Some(node) = schema.nodes().nth(def.node as usize - 1)
        {
            labels.push(format!("node={}", node.id));
        }
        for l in schema.labels(def.labels) {
            labels.push(format!("{}={}", schema.str(l.key), schema.str(l.value)));
        }
        let help = schema.str(def.help);
        let title = if help.is_empty() {
            String::new()
        } else {
            format!(" title=\"{}\"", escape(help))
        };
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\"{title}>{}</th><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"wide\">{}</td></tr>",
            escape(name),
            escape(&labels.join(", ")),
            escape(&svg::with_unit(latest.values[i], unit)),
            svg::plot(&values, unit, name),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if series.len() > MAX_SERIES {
        let _ = writeln!(
            out,
            "<p>{} more series not shown (`dbmon reports ID -v` lists them all).</p>",
            series.len() - MAX_SERIES
        );
    }
    out
}

/// What tells one series apart from the others of a report: node, name and labels.
fn series_key(schema: &Schema, i: usize) -> String {
    let def = &schema.series()[i];
    let mut key = format!("{}\u{0}{}", def.node, schema.str(def.name));
    for l in schema.labels(def.labels) {
        let _ = write!(key, "\u{0}{}={}", schema.str(l.key), schema.str(l.value));
    }
    key
}

/// Finds a series of the latest report in older reports, whose schema may differ.
#[derive(Default)]
struct Lookup {
    /// Per other schema (by address), each series' index by key.
    indexes: HashMap<usize, HashMap<String, usize>>,
}

impl Lookup {
    /// The value in `report` of series `i` of `latest` (key `key`); NaN where it has none.
    fn value(&mut self, report: &Report, latest: &Report, i: usize, key: &str) -> f64 {
        if Arc::ptr_eq(&report.schema, &latest.schema) {
            return report.values[i];
        }
        let schema = &report.schema;
        let index = self
            .indexes
            .entry(Arc::as_ptr(schema) as usize)
            .or_insert_with(|| {
                (0..schema.series().len())
                    .map(|j| (series_key(schema, j), j))
                    .collect()
            });
        index.get(key).map_or(f64::NAN, |&j| report.values[j])
    }
}
