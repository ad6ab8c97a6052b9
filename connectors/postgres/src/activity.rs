//! The `activity` command: the longest-running statements of each node as a text table.

use crate::probe::Activity;

/// Rows shown per node when the command names no limit.
pub const DEFAULT_LIMIT: i64 = 20;
/// The most rows a caller may ask for.
pub const MAX_LIMIT: i64 = 1000;
/// Characters of a statement's text shown; longer ones end with `…`.
pub const QUERY_CHARS: usize = 80;

/// The row limit from the command's arguments: none, or one number from 1 to [`MAX_LIMIT`].
pub fn limit(args: &[String]) -> Result<i64, String> {
    match args {
        [] => Ok(DEFAULT_LIMIT),
        [n] => match n.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "activity takes a number of rows from 1 to {MAX_LIMIT}; got '{n}'"
            )),
        },
        _ => Err(format!(
            "activity takes at most one argument, a number of rows (default {DEFAULT_LIMIT})"
        )),
    }
}

/// One node's section: a heading, then its table or why it has none.
pub fn section(address: &str, answer: &Result<Vec<Activity>, String>) -> String {
    match answer {
        Err(e) => format!("node {address}: not answering: {e}\n"),
        Ok(rows) if rows.is_empty() => format!("node {address}: no statement running\n"),
        Ok(rows) => {
            let count = match rows.len() {
                1 => "1 statement".to_string(),
                n => format!("{n} statements"),
            };
            format!("node {address}: {count}, longest first\n{}", table(rows))
        }
    }
}

fn table(rows: &[Activity]) -> String {
    let header = ["PID", "USER", "DATABASE", "STATE", "DURATION", "QUERY"].map(String::from);
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|a| {
            [
                a.pid.to_string(),
                a.user.clone(),
                a.database.clone(),
                a.state.clone(),
                format!("{:.1}s", a.duration_seconds.max(0.0)),
                shorten(&a.query),
            ]
        })
        .collect();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(cells)
        .map(Vec::from)
        .collect();
    dbmon_connector_api::text::table(&rows)
}

/// The statement on one line, at most [`QUERY_CHARS`] characters.
fn shorten(query: &str) -> String {
    let one_line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= QUERY_CHARS {
        return one_line;
    }
    let mut short: String = one_line.chars().take(QUERY_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(&[]), Ok(DEFAULT_LIMIT));
        assert_eq!(limit(&["5".into()]), Ok(5));
        assert!(limit(&["0".into()]).is_err());
        assert!(limit(&["x".into()]).is_err());
        assert!(limit(&["1".into(), "2".into()]).is_err());
    }

    #[test]
    fn table_aligns_and_shortens() {
        let long = format!("SELECT\n  {}", "x, ".repeat(50));
        let rows = vec![Activity {
            pid: 42,
            user: "app".into(),
            database: "shop".into(),
            state: "active".into(),
            duration_seconds: 3.26,
            query: long,
        }];
        let text = section("db1:5432", &Ok(rows));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "node db1:5432: 1 statement, longest first");
        assert!(lines[1].starts_with("PID  USER  DATABASE  STATE   DURATION  QUERY"));
        assert!(lines[2].starts_with("42   app   shop      active  3.3s      SELECT x, x,"));
        assert!(lines[2].ends_with('…'));
        assert_eq!(
            lines[2].split("  ").last().unwrap().chars().count(),
            QUERY_CHARS
        );
    }
}
