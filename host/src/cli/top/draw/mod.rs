//! Drawing the model into a ratatui frame: nothing here changes state.

mod detail;
mod list;

use super::{
    model::{Link, Model, View},
    verdict::Verdict,
};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::Paragraph,
};

/// Draws the whole screen for `model`.
pub fn draw(frame: &mut Frame, model: &Model) {
    let banner = if matches!(model.link, Link::Disconnected { .. }) {
        2
    } else {
        0
    };
    let [title, banner_area, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(title_line(model)), title);
    if let Link::Disconnected { attempt, error } = &model.link {
        draw_banner(frame, banner_area, &model.server, *attempt, error);
    }
    match &model.view {
        View::List => list::draw(frame, body, model),
        View::Detail(id) => detail::draw(frame, body, model, id),
    }
    frame.render_widget(Paragraph::new(footer_line(model)), footer);
}

fn title_line(model: &Model) -> Line<'_> {
    let mut spans = vec![
        Span::styled(" dbmon top ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" {}  ", model.server)),
        Span::raw(format!("{} clusters", model.clusters.len())),
    ];
    for (verdict, count) in model.counts() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!("{count} {}", verdict.name()),
            verdict_style(verdict),
        ));
    }
    Line::from(spans)
}

fn draw_banner(frame: &mut Frame, area: Rect, server: &str, attempt: u32, error: &str) {
    let style = Style::new().fg(Color::White).bg(Color::Red);
    let lines = vec![
        Line::styled(
            format!(" disconnected from {server} — reconnecting (attempt {attempt})"),
            style.add_modifier(Modifier::BOLD),
        ),
        Line::styled(format!(" {error}"), style),
    ];
    frame.render_widget(Paragraph::new(lines).style(style), area);
}

fn footer_line(model: &Model) -> Line<'_> {
    let key = Style::new().add_modifier(Modifier::REVERSED);
    if model.editing_filter {
        return Line::from(vec![
            Span::styled(" filter ", key),
            Span::raw(format!(" /{}", model.filter)),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("   Enter keep  Esc clear"),
        ]);
    }
    let keys: &[(&str, &str)] = match model.view {
        View::List => &[
            ("↑↓/jk", "move"),
            ("Enter", "detail"),
            ("/", "filter"),
            ("q", "quit"),
        ],
        View::Detail(_) => &[("Esc", "back"), ("↑↓/jk", "scroll"), ("q", "quit")],
    };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(format!(" {k} "), key));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    if !model.filter.is_empty() && model.view == View::List {
        spans.push(Span::raw(format!("filter: /{}", model.filter)));
    }
    Line::from(spans)
}

/// The colour of a verdict.
pub fn verdict_style(verdict: Verdict) -> Style {
    match verdict {
        Verdict::Unreachable => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        Verdict::Unhealthy => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Verdict::Degraded => Style::new().fg(Color::Yellow),
        Verdict::Unknown => Style::new().fg(Color::DarkGray),
        Verdict::Healthy => Style::new().fg(Color::Green),
    }
}

/// `● verdict`, `(stale)` added when stale, coloured.
pub fn verdict_span(verdict: Verdict, stale: bool) -> Span<'static> {
    let stale = if stale { " (stale)" } else { "" };
    Span::styled(
        format!("● {}{stale}", verdict.name()),
        verdict_style(verdict),
    )
}
