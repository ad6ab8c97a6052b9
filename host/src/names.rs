//! What a cluster id may be, stated once: the config checks ids with it and the API refuses
//! requests that break it before looking anything up (command names follow the SDK's rule,
//! `dbmon_connector_api::names`). Messages quote at most a
//! short prefix of what was sent, so a huge id never comes back in a huge error.

/// Longest cluster id.
pub const MAX_CLUSTER_ID_BYTES: usize = 128;
/// Characters of client input quoted in an error.
const QUOTED_CHARS: usize = 40;

/// Why `id` cannot be a cluster id, if it cannot.
pub fn cluster_id_problem(id: &str) -> Option<String> {
    word_problem(id, MAX_CLUSTER_ID_BYTES).map(|p| format!("cluster id {}: {p}", quote(id)))
}

/// Why `id` cannot be a collector id (the cluster id rule), if it cannot.
pub fn collector_id_problem(id: &str) -> Option<String> {
    word_problem(id, MAX_CLUSTER_ID_BYTES).map(|p| format!("collector id {}: {p}", quote(id)))
}

/// This machine's host name, as a collector id: characters the id rule refuses become `-`.
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .take(MAX_CLUSTER_ID_BYTES)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "collector".into()
    } else {
        name
    }
}

fn word_problem(word: &str, max: usize) -> Option<String> {
    if word.is_empty() {
        return Some("must not be empty".into());
    }
    if word.len() > max {
        return Some(format!("is {} bytes long; at most {max}", word.len()));
    }
    if !word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Some("may use only letters, digits, '-', '_' and '.'".into());
    }
    None
}

/// `s` quoted for an error message: escaped, and cut after a few dozen characters.
pub fn quote(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(QUOTED_CHARS).collect();
    let more = chars.next().is_some();
    let head = head.escape_debug();
    if more {
        format!("'{head}…' ({} bytes)", s.len())
    } else {
        format!("'{head}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_config_rule_and_errors_quote_a_prefix() {
        assert_eq!(cluster_id_problem("db-1.eu_west"), None);
        assert!(cluster_id_problem("").is_some());
        assert!(cluster_id_problem("a b").unwrap().contains("only letters"));
        let huge = "x".repeat(1 << 20);
        let problem = cluster_id_problem(&huge).unwrap();
        assert!(problem.len() < 200, "{problem}");
        assert!(problem.contains("1048576 bytes"), "{problem}");
        assert_eq!(quote("a'b\n"), r"'a\'b\n'");
    }
}
