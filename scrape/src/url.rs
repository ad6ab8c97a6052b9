//! The URLs of a cluster's `endpoints:` for connectors that speak HTTP: one check of what
//! every such endpoint must be, and one test of whether two name the same listener. Each
//! connector adds its own rule for the path.

use ::url::Url;
use dbmon_connector_api::ConfigError;

/// `url` from the config field `field`, checked: http or https, a host, no credentials (they
/// belong in `auth:`, and the URL is shown in reports). `what` says what the URL is for, in
/// the error for another scheme (`a member's client URL`).
pub fn endpoint_url(field: &str, url: &str, what: &str) -> Result<Url, ConfigError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(ConfigError::at(
            field,
            format!("'{url}' is not an http:// or https:// URL ({what}, e.g. http://{url})"),
        ));
    }
    let parsed = Url::parse(url)
        .map_err(|e| ConfigError::at(field, format!("'{url}' is not a valid URL: {e}")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::at(field, format!("'{url}' has no host")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::at(
            field,
            "put credentials in auth:, not in the URL (it is shown in reports)",
        ));
    }
    Ok(parsed)
}

/// Whether two URLs name the same listener (scheme, host and port; case and a trailing `/`
/// do not matter).
pub fn same_listener(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => a
            .trim_end_matches('/')
            .eq_ignore_ascii_case(b.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        endpoint_url("endpoints[0]", url, "a test URL")
            .unwrap_err()
            .message
    }

    #[test]
    fn an_endpoint_url_is_http_with_a_host_and_no_credentials() {
        assert_eq!(
            refused("db:80"),
            "'db:80' is not an http:// or https:// URL (a test URL, e.g. http://db:80)"
        );
        assert!(
            refused("http://").contains("is not a valid URL"),
            "{}",
            refused("http://")
        );
        assert!(refused("http://u:p@db:80").starts_with("put credentials in auth:"));
        let url = endpoint_url("endpoints[0]", "HTTPS://db:8443/x", "a test URL").unwrap();
        assert_eq!((url.host_str(), url.path()), (Some("db"), "/x"));
    }

    #[test]
    fn the_same_listener_whatever_the_case_the_default_port_or_a_slash() {
        assert!(same_listener("http://DB:80/", "http://db"));
        assert!(!same_listener("http://db:80", "https://db:80"));
        assert!(!same_listener("http://db:80", "http://db:81"));
        assert!(same_listener("not a url/", "NOT A URL"));
    }
}
