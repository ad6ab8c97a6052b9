//! The list of clusters, worst first.

use super::{
    super::{cluster::ClusterState, format, model::Model},
    verdict_span,
};
use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    style::{Modifier, Style},
    text::Text,
    widgets::{Cell, Paragraph, Row, Table, TableState},
};

/// Characters of the duration sparkline.
const SPARK: usize = 12;

/// Draws the table of clusters into `area`.
pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let rows = model.rows();
    if rows.is_empty() {
        let text = if model.clusters.is_empty() {
            " no clusters configured on this server".to_string()
        } else {
            format!(" no cluster id contains '{}'", model.filter)
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let remote = model.any_remote();
    let mut header = vec!["ID", "VERDICT", "AGE"];
    if remote {
        header.push("COLLECTOR");
    }
    header.extend(["KEY METRICS", "DURATION (ms)", "REASONS"]);
    let texts: Vec<Vec<String>> = rows.iter().map(|c| row_texts(c, model, remote)).collect();
    // Each column as wide as its widest cell (the id at most 24), the reasons take the rest.
    let mut widths: Vec<Constraint> = (0..header.len() - 1)
        .map(|column| {
            let widest = texts.iter().map(|row| row[column].chars().count()).max();
            let width = widest.unwrap_or(0).max(header[column].len());
            Constraint::Length(if column == 0 { width.min(24) } else { width } as u16)
        })
        .collect();
    widths.push(Constraint::Fill(1));
    let table_rows = rows.iter().zip(texts).map(|(c, texts)| {
        let cells = texts.into_iter().enumerate().map(|(column, text)| {
            if column == 1 {
                Cell::from(verdict_span(c.verdict, c.stale(model.now)))
            } else {
                Cell::from(Text::raw(text))
            }
        });
        Row::new(cells.collect::<Vec<_>>())
    });
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(model.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
}

/// The texts of one row, in the header's order.
fn row_texts(c: &ClusterState, model: &Model, remote: bool) -> Vec<String> {
    let verdict = verdict_span(c.verdict, c.stale(model.now))
        .content
        .into_owned();
    let mut texts = vec![c.id.clone(), verdict, format::age(c.age(model.now))];
    if remote {
        let collector = if c.collector.is_empty() {
            "-"
        } else {
            &c.collector
        };
        texts.push(collector.to_string());
    }
    let metrics: Vec<String> = c.key_metrics(2).iter().map(format::key_metric).collect();
    let duration = c.durations.last().map_or(String::new(), |last| {
        format!(
            "{} {}",
            format::sparkline(c.durations.values(), SPARK),
            format::number(last)
        )
    });
    let reasons: Vec<&str> = c
        .notes
        .iter()
        .chain(&c.reasons)
        .map(String::as_str)
        .collect();
    texts.extend([metrics.join(" "), duration, reasons.join("; ")]);
    texts
}
