//! The `processlist` command: each node's threads, longest in their state first, as a table.

use crate::probe::Fields;
use dbmon_connector_api::CommandError;

/// Rows shown per node when the command names no limit.
pub const DEFAULT_ROWS: u32 = 20;
/// The most rows a caller may ask for.
pub const MAX_ROWS: u32 = 1000;
/// Characters of a statement's text shown; longer ones end with `…`.
pub const INFO_CHARS: usize = 80;

/// The row limit from the command's arguments: none, or one number from 1 to [`MAX_ROWS`].
pub fn rows(args: &[String]) -> Result<u32, CommandError> {
    match args {
        [] => Ok(DEFAULT_ROWS),
        [n] => match n.parse::<u32>() {
            Ok(n) if (1..=MAX_ROWS).contains(&n) => Ok(n),
            _ => Err(CommandError::bad_arguments(format!(
                "processlist takes a number of rows from 1 to {MAX_ROWS}; got '{n}'"
            ))),
        },
        _ => Err(CommandError::bad_arguments(format!(
            "processlist takes at most one argument, a number of rows per node (default \
             {DEFAULT_ROWS})"
        ))),
    }
}

/// What one node gave: its threads (at most the limit) and how many it has, or why it gave
/// none.
pub type Listed = Result<(Vec<Fields>, u64), String>;

/// One node's section: a heading, then its table or why it has none.
pub fn section(address: &str, listed: &Listed) -> String {
    match listed {
        Err(e) => format!("node {address}: not answering: {e}\n"),
        Ok((rows, _)) if rows.is_empty() => {
            format!("node {address}: no thread but the connector's own\n")
        }
        Ok((rows, total)) => {
            let shown = match (rows.len() as u64, *total) {
                (1, 1) => "1 thread".to_string(),
                (n, t) if n >= t => format!("{n} threads"),
                (n, t) => format!("{n} of {t} threads"),
            };
            format!(
                "node {address}: {shown}, longest in its state first\n{}",
                table(rows)
            )
        }
    }
}

const COLUMNS: [(&str, &str); 8] = [
    ("ID", "ID"),
    ("USER", "USER"),
    ("HOST", "HOST"),
    ("DB", "DB"),
    ("COMMAND", "COMMAND"),
    ("TIME", "TIME"),
    ("STATE", "STATE"),
    ("INFO", "INFO"),
];

fn table(rows: &[Fields]) -> String {
    let header: Vec<String> = COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
    let cells = rows.iter().map(|row| {
        COLUMNS
            .iter()
            .map(|(_, column)| {
                let value = row.get(*column).cloned().flatten().unwrap_or_default();
                match *column {
                    "INFO" => shorten(&value),
                    "TIME" => format!("{value}s"),
                    _ => value,
                }
            })
            .collect::<Vec<String>>()
    });
    let all: Vec<Vec<String>> = std::iter::once(header).chain(cells).collect();
    dbmon_connector_api::text::table(&all)
}

/// The statement on one line, at most [`INFO_CHARS`] characters.
fn shorten(info: &str) -> String {
    let one_line = info.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= INFO_CHARS {
        return one_line;
    }
    let mut short: String = one_line.chars().take(INFO_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: [&str; 8]) -> Fields {
        COLUMNS
            .iter()
            .zip(values)
            .map(|((_, c), v)| (c.to_string(), (v != "NULL").then(|| v.to_string())))
            .collect()
    }

    #[test]
    fn limits() {
        assert_eq!(rows(&[]).unwrap(), DEFAULT_ROWS);
        assert_eq!(rows(&["5".into()]).unwrap(), 5);
        for bad in [
            vec!["0".into()],
            vec!["x".into()],
            vec!["1".into(), "2".into()],
        ] {
            assert!(rows(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_table_per_node() {
        let long = format!("SELECT\n  {}", "x, ".repeat(50));
        let rows = vec![
            row([
                "7",
                "app",
                "10.0.0.5:5120",
                "shop",
                "Query",
                "12",
                "Sending data",
                &long,
            ]),
            row([
                "3",
                "repl",
                "10.0.0.6:4100",
                "NULL",
                "Binlog Dump",
                "9",
                "idle",
                "NULL",
            ]),
        ];
        let text = section("db1:3306", &Ok((rows, 5)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "node db1:3306: 2 of 5 threads, longest in its state first"
        );
        assert!(
            lines[1].starts_with("ID  USER  HOST           DB    COMMAND      TIME  STATE"),
            "{text}"
        );
        assert!(lines[2].starts_with("7   app   10.0.0.5:5120  shop  Query        12s"));
        assert!(lines[2].ends_with('…'), "{text}");
        assert_eq!(
            lines[2].split("  ").last().unwrap().chars().count(),
            INFO_CHARS
        );
        assert!(lines[3].starts_with("3   repl  10.0.0.6:4100        Binlog Dump  9s"));
        assert_eq!(
            section("db2:3306", &Err("no answer within 900 ms".into())),
            "node db2:3306: not answering: no answer within 900 ms\n"
        );
    }
}
