//! What a connector and its commands may be called, stated once: the host's loader, the API,
//! `dbmon connector new` and the conformance kit all check names with these.

/// Longest connector name.
pub const MAX_CONNECTOR_NAME: usize = 64;
/// Longest command name.
pub const MAX_COMMAND_NAME: usize = 64;

/// Why `name` cannot name a connector, if it cannot: a lowercase letter, then lowercase
/// letters, digits, `_` or `-`, at most 64 (a cluster's `connector:` value, a cargo package
/// name and, in CamelCase, a Rust type name).
pub fn connector_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'));
    (!first_ok || !rest_ok || name.len() > MAX_CONNECTOR_NAME).then(|| {
        format!(
            "'{}' is not a connector name: use a lowercase letter, then lowercase letters, \
             digits, '_' or '-' (at most {MAX_CONNECTOR_NAME})",
            name.escape_debug()
        )
    })
}

/// Why `name` cannot name a command, if it cannot: not empty, at most 64 bytes, no spaces or
/// control characters (it is one word on the `dbmon run` command line).
pub fn command_name_problem(name: &str) -> Option<String> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_COMMAND_NAME {
        "is longer than 64 bytes"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "has spaces or control characters"
    } else {
        return None;
    };
    let shown: String = name.chars().take(40).collect();
    Some(format!("command name '{}' {why}", shown.escape_debug()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_connectors_and_one_for_commands() {
        for good in ["system", "my-db", "x_2"] {
            assert_eq!(connector_name_problem(good), None, "{good}");
        }
        for bad in ["", "2db", "My", "a b", "é", &"a".repeat(65)] {
            assert!(connector_name_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(command_name_problem("slowlog"), None);
        assert_eq!(command_name_problem("show-nodes.v2"), None);
        for bad in ["", "slow log", "a\nb", &"c".repeat(65)] {
            assert!(command_name_problem(bad).is_some(), "{bad:?}");
        }
    }
}
