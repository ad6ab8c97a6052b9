//! One cluster: its verdict and reasons, nodes with their status, metrics with units.

use super::{
    super::{cluster::ClusterState, format, model::Model},
    verdict_span,
};
use dbmon_proto as proto;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Paragraph, Sparkline},
};

/// Draws cluster `id`'s detail into `area`.
pub fn draw(frame: &mut Frame, area: Rect, model: &Model, id: &str) {
    let Some(cluster) = model.clusters.get(id) else {
        let text = format!(" cluster {id} is no longer configured (Esc: back)");
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let [head, spark, body] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(head_lines(cluster, model)), head);
    let values: Vec<u64> = cluster
        .durations
        .values()
        .map(|ms| ms.max(0.0).round() as u64)
        .collect();
    let title = format!(" collection duration, ms (last {}) ", values.len());
    let sparkline = Sparkline::default()
        .block(Block::bordered().title(title))
        .data(
            values
                .iter()
                .rev()
                .take(spark.width.saturating_sub(2).into())
                .rev()
                .copied(),
        )
        .style(Style::new().fg(Color::Cyan));
    frame.render_widget(sparkline, spark);
    frame.render_widget(
        Paragraph::new(body_lines(cluster)).scroll((model.detail_scroll, 0)),
        body,
    );
}

fn head_lines<'a>(cluster: &'a ClusterState, model: &Model) -> Vec<Line<'a>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut first = vec![
        Span::styled(format!(" {} ", cluster.id), bold),
        verdict_span(cluster.verdict, cluster.stale(model.now)),
        Span::raw(format!("   connector {}", cluster.connector)),
    ];
    if !cluster.collector.is_empty() {
        first.push(Span::raw(format!("   collector {}", cluster.collector)));
    }
    let mut second = format!(" last report {} ago", format::age(cluster.age(model.now)));
    if let Some(report) = &cluster.latest {
        second += &format!(
            "   sequence {}   took {} ms",
            report.sequence,
            format::number(cluster.durations.last().unwrap_or_default())
        );
        if report.consecutive_failures > 0 {
            second += &format!("   {} failures in a row", report.consecutive_failures);
        }
    }
    vec![Line::from(first), Line::from(second)]
}

fn body_lines(cluster: &ClusterState) -> Vec<Line<'_>> {
    let section = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = Vec::new();
    let reasons: Vec<&String> = cluster.notes.iter().chain(&cluster.reasons).collect();
    lines.push(Line::styled(
        format!(" Reasons ({})", reasons.len()),
        section,
    ));
    if reasons.is_empty() {
        lines.push(Line::raw("   none"));
    }
    lines.extend(reasons.iter().map(|r| Line::raw(format!("   - {r}"))));
    let Some(report) = &cluster.latest else {
        lines.push(Line::raw(""));
        lines.push(Line::raw(" no report yet"));
        return lines;
    };
    if let Some(error) = &report.error {
        lines.push(Line::styled(
            format!(" Error: {error}"),
            Style::new().fg(Color::Red),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(" Nodes ({})", report.nodes.len()),
        section,
    ));
    lines.extend(node_lines(&report.nodes));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(" Metrics ({})", report.metrics.len()),
        section,
    ));
    lines.extend(metric_lines(&report.metrics));
    lines
}

fn node_lines(nodes: &[proto::Node]) -> Vec<Line<'_>> {
    let id = nodes
        .iter()
        .map(|n| n.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    let address = nodes
        .iter()
        .map(|n| n.address.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    nodes
        .iter()
        .map(|n| {
            let status = proto::NodeStatus::try_from(n.status)
                .unwrap_or(proto::NodeStatus::Unknown)
                .as_str_name()
                .trim_start_matches("NODE_STATUS_")
                .to_lowercase();
            let style = match status.as_str() {
                "live" => Style::new().fg(Color::Green),
                "dead" | "unavailable" => Style::new().fg(Color::Red),
                _ => Style::new().fg(Color::Yellow),
            };
            Line::from(vec![
                Span::raw(format!("   {:id$}  {:address$}  ", n.id, n.address)),
                Span::styled(format!("{status:14}"), style),
                Span::raw(format!("{} metrics", n.metrics.len())),
            ])
        })
        .collect()
}

fn metric_lines(metrics: &[proto::Metric]) -> Vec<Line<'static>> {
    let names: Vec<String> = metrics.iter().map(format::series).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    names
        .into_iter()
        .zip(metrics)
        .map(|(name, m)| {
            Line::raw(format!(
                "   {name:width$}  {}",
                format::value(m.value, &m.unit)
            ))
        })
        .collect()
}
