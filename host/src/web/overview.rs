//! `GET /`: every cluster, one table row each.

use super::{
    html::{badge, escape, page, path_segment, time},
    rows::Row,
};
use std::fmt::Write as _;

/// The overview page of these rows.
pub fn render(rows: &[Row]) -> String {
    let mut main = String::new();
    let counts = summary(rows);
    let _ = write!(
        main,
        "<h1>Clusters</h1>\n<p id=\"summary\">{}</p>\n\
         <table id=\"clusters\">\n<caption>Every cluster's latest verdict; select a cluster \
         for its nodes and metrics.</caption>\n<thead><tr>\
         <th scope=\"col\">Cluster</th><th scope=\"col\">Verdict</th>\
         <th scope=\"col\">Reasons</th><th scope=\"col\" class=\"wide\">Connector</th>\
         <th scope=\"col\" class=\"wide\">Collector</th><th scope=\"col\">Last report</th>\
         <th scope=\"col\" class=\"wide\">Collection time</th></tr></thead>\n<tbody>\n",
        escape(&counts)
    );
    for row in rows {
        main.push_str(&row_html(row));
    }
    main.push_str("</tbody>\n</table>\n");
    if rows.is_empty() {
        main.push_str("<p>No cluster is configured or pushed by a collector yet.</p>\n");
    }
    page("dbmon: clusters", "./", &main)
}

/// `3 clusters: 2 healthy, 1 unhealthy`.
pub fn summary(rows: &[Row]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for row in rows {
        match counts.iter_mut().find(|(v, _)| *v == row.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((row.verdict, 1)),
        }
    }
    let order = ["unhealthy", "unreachable", "degraded", "unknown", "healthy"];
    counts.sort_by_key(|(v, _)| order.iter().position(|o| o == v));
    let n = rows.len();
    let parts: Vec<String> = counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    let plural = if n == 1 { "cluster" } else { "clusters" };
    if parts.is_empty() {
        format!("{n} {plural}")
    } else {
        format!("{n} {plural}: {}", parts.join(", "))
    }
}

/// One cluster's row.
pub fn row_html(row: &Row) -> String {
    let id = escape(&row.id);
    let stale = if row.stale { " stale" } else { "" };
    format!(
        "<tr class=\"v-{verdict}{stale}\" data-cluster=\"{id}\" data-stale-after=\"{after}\">\
         <th scope=\"row\"><a href=\"cluster/{link}\">{id}</a></th>\
         <td>{badge}</td><td data-f=\"reasons\">{reasons}</td>\
         <td class=\"wide\">{connector}</td><td class=\"wide\" data-f=\"collector\">{collector}</td>\
         <td>{time}</td><td class=\"wide\">{spark}</td></tr>\n",
        verdict = escape(row.verdict),
        after = row.stale_after_ms,
        link = escape(&path_segment(&row.id)),
        badge = badge(row.verdict),
        reasons = reasons(row),
        connector = escape(&row.connector),
        collector = if row.collector.is_empty() {
            "<span class=\"none\">this host</span>".to_string()
        } else {
            escape(&row.collector)
        },
        time = time(row.last_report_at.as_deref(), row.last_report_ms),
        spark = row.spark.svg(),
    )
}

/// The reasons of a row (and why it is stale), as a list; empty when there are none.
pub fn reasons(row: &Row) -> String {
    let mut all: Vec<&str> = row.reasons.iter().map(String::as_str).collect();
    if !row.stale_reason.is_empty() {
        all.push(&row.stale_reason);
    }
    if all.is_empty() {
        return String::new();
    }
    let items: String = all
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect();
    format!("<ul>{items}</ul>")
}
