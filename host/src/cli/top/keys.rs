//! What each key does to the model.

use super::model::{Model, View};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Whether the program goes on after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep running.
    Continue,
    /// `q` or Ctrl-C: restore the terminal and exit.
    Quit,
}

/// Applies `key` to `model`.
pub fn handle(model: &mut Model, key: KeyEvent) -> Flow {
    if key.kind == KeyEventKind::Release {
        return Flow::Continue;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Flow::Quit;
    }
    if model.editing_filter {
        edit_filter(model, key.code);
        return Flow::Continue;
    }
    match (&model.view, key.code) {
        (_, KeyCode::Char('q')) => return Flow::Quit,
        (View::List, KeyCode::Up | KeyCode::Char('k')) => model.move_selection(-1),
        (View::List, KeyCode::Down | KeyCode::Char('j')) => model.move_selection(1),
        (View::List, KeyCode::PageUp) => model.move_selection(-10),
        (View::List, KeyCode::PageDown) => model.move_selection(10),
        (View::List, KeyCode::Home | KeyCode::Char('g')) => model.select_end(true),
        (View::List, KeyCode::End | KeyCode::Char('G')) => model.select_end(false),
        (View::List, KeyCode::Enter) => model.open_detail(),
        (View::List, KeyCode::Char('/')) => model.editing_filter = true,
        (View::List, KeyCode::Esc) => model.set_filter(String::new()),
        (View::Detail(_), KeyCode::Esc | KeyCode::Backspace) => model.close_detail(),
        (View::Detail(_), KeyCode::Up | KeyCode::Char('k')) => {
            model.detail_scroll = model.detail_scroll.saturating_sub(1);
        }
        (View::Detail(_), KeyCode::Down | KeyCode::Char('j')) => {
            model.detail_scroll = model.detail_scroll.saturating_add(1);
        }
        _ => {}
    }
    Flow::Continue
}

/// While the filter is typed: characters and Backspace change it live; Enter keeps it, Esc
/// clears it, and both end the typing.
fn edit_filter(model: &mut Model, code: KeyCode) {
    let mut filter = model.filter.clone();
    match code {
        KeyCode::Enter => model.editing_filter = false,
        KeyCode::Esc => {
            model.editing_filter = false;
            filter.clear();
        }
        KeyCode::Backspace => {
            filter.pop();
        }
        KeyCode::Char(c) => filter.push(c),
        _ => {}
    }
    model.set_filter(filter);
}
