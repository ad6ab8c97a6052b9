//! Resolves `${env:VAR}` and `password_file` so that connectors get plain credentials and the
//! YAML never has to hold one.

use super::model::AuthEntry;
use dbmon_connector_api::AuthConfig;
use std::path::Path;

/// Resolves one `auth:` block into what the connector receives (the SDK's type, whose `Debug`
/// never prints the password); an error names the field (`password`, `password_file`).
pub fn resolve(entry: AuthEntry, base: &Path) -> Result<AuthConfig, (&'static str, String)> {
    let username = entry
        .username
        .map(|u| expand(&u))
        .transpose()
        .map_err(|e| ("username", e))?;
    let password = match (entry.password, entry.password_file) {
        (Some(_), Some(_)) => {
            return Err((
                "password_file",
                "set either password or password_file, not both".into(),
            ));
        }
        (Some(p), None) => Some(expand(&p).map_err(|e| ("password", e))?),
        (None, Some(file)) => {
            let file = base.join(file);
            let text = std::fs::read_to_string(&file).map_err(|e| {
                (
                    "password_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            let password = text.lines().next().unwrap_or_default();
            if password.is_empty() {
                let what = if text.is_empty() {
                    "is empty"
                } else {
                    "has an empty first line"
                };
                return Err((
                    "password_file",
                    format!("{} {what}: its first line is the password", file.display()),
                ));
            }
            Some(password.to_string())
        }
        (None, None) => None,
    };
    Ok(AuthConfig { username, password })
}

/// Replaces every `${env:VAR}` in `text` by the variable's value.
pub fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            return Err("unterminated ${env:...}".into());
        };
        let var = &after[..end];
        let value =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        if value.is_empty() {
            // An empty secret is almost always a variable exported by mistake.
            return Err(format!(
                "environment variable {var} is set but empty: give it the value, or remove \
                 ${{env:{var}}} from the file"
            ));
        }
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_variables_and_names_missing_ones() {
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var("DBMON_TEST_SECRET_X", "s3cret") };
        assert_eq!(
            expand("a-${env:DBMON_TEST_SECRET_X}-b").unwrap(),
            "a-s3cret-b"
        );
        assert_eq!(expand("plain").unwrap(), "plain");
        let err = expand("${env:DBMON_TEST_SURELY_UNSET_VAR}").unwrap_err();
        assert!(err.contains("DBMON_TEST_SURELY_UNSET_VAR"), "{err}");
        assert!(expand("${env:OOPS").is_err());
    }
}
