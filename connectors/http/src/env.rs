//! `${env:NAME}` in header values, replaced at startup. Messages name the variable, never its
//! value.

/// `text` with every `${env:NAME}` replaced by the variable's value; an unset or empty
/// variable, or an unclosed `${env:`, is refused.
pub fn expand(text: &str) -> Result<String, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "${env:".len()..];
        let Some(end) = after.find('}') else {
            return Err("'${env:' without its closing '}'".into());
        };
        let name = &after[..end];
        if name.is_empty() {
            return Err("'${env:}' names no variable".into());
        }
        match lookup(name) {
            None => return Err(format!("environment variable {name} is not set")),
            Some(value) if value.is_empty() => {
                return Err(format!("environment variable {name} is set but empty"));
            }
            Some(value) => out.push_str(&value),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_replaced_and_missing_ones_named() {
        assert_eq!(
            expand_with("Bearer ${env:TOKEN}", lookup).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(
            expand_with("${env:TOKEN}-${env:TOKEN}", lookup).unwrap(),
            "s3cret-s3cret"
        );
        assert_eq!(expand_with("plain", lookup).unwrap(), "plain");
        assert_eq!(
            expand_with("${env:NOPE}", lookup).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert_eq!(
            expand_with("x ${env:EMPTY}", lookup).unwrap_err(),
            "environment variable EMPTY is set but empty"
        );
        assert!(expand_with("${env:TOKEN", lookup).is_err());
    }
}
