//! Plain-text output for commands (`dbmon run CLUSTER COMMAND`): aligned tables.

/// Columns separated by two spaces, each as wide as its widest cell (counted in characters);
/// the last column is not padded and lines carry no trailing spaces.
///
/// ```
/// let rows = vec![vec!["ID", "STATUS"], vec!["1", "live"], vec!["12", "dead"]];
/// assert_eq!(dbmon_connector_api::text::table(&rows), "ID  STATUS\n1   live\n12  dead\n");
/// ```
pub fn table<S: AsRef<str>>(rows: &[Vec<S>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.as_ref().chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell = cell.as_ref();
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn wide_characters_count_once_and_short_rows_are_fine() {
        let rows = vec![vec!["é", "x", "last"], vec!["long cell", "y"]];
        assert_eq!(table(&rows), "é          x  last\nlong cell  y\n");
        assert_eq!(table::<&str>(&[]), "");
    }
}
