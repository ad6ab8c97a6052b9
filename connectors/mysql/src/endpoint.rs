//! Endpoints as written in a cluster entry: `host`, `host:port`, `[v6addr]:port`, or the same
//! after `mysql://` or `mariadb://`. Each is one node, with `host:port` as its id.

/// The port of an endpoint written without one.
pub const DEFAULT_PORT: u16 = 3306;

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `host:port`, an IPv6 address in brackets: the node's id and address.
    pub address: String,
}

/// Parses one endpoint. The message never repeats what was written after an `@`: it may be a
/// password.
pub fn parse(text: &str) -> Result<Endpoint, String> {
    if text.contains('@') {
        return Err(
            "a user or password does not belong in the endpoint: write host:port, and the \
             login in the cluster's auth: block"
                .into(),
        );
    }
    let rest = match text.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("mysql") || scheme.eq_ignore_ascii_case("mariadb") =>
        {
            rest
        }
        Some((scheme, _)) => {
            return Err(format!(
                "'{text}': scheme '{scheme}' is not mysql:// or mariadb://; write host:port \
                 or mysql://host:port"
            ));
        }
        None => text,
    };
    let authority = match rest.split_once(['/', '?']) {
        Some((authority, "")) if rest.ends_with('/') => authority,
        Some(_) => {
            return Err(format!(
                "'{text}' has a path or parameters: write only the server's address (TLS comes \
                 from the cluster's tls: block, the login from auth:)"
            ));
        }
        None => rest,
    };
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| format!("'{text}' is not host:port (a port is a number from 1 to 65535)"))?;
    if host.is_empty() {
        return Err(format!("'{text}' has no host"));
    }
    let address = match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    };
    Ok(Endpoint {
        host,
        port,
        address,
    })
}

fn split_host_port(authority: &str) -> Option<(String, u16)> {
    let parse_port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(after.strip_prefix(':')?)?,
        };
        return Some((host.to_string(), port));
    }
    match authority.split_once(':') {
        // A second colon without brackets: an IPv6 address that cannot be told from its port.
        Some((_, port)) if port.contains(':') => None,
        Some((host, port)) => Some((host.to_string(), parse_port(port)?)),
        None => Some((authority.to_string(), DEFAULT_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> String {
        parse(text).unwrap().address
    }

    #[test]
    fn every_spelling() {
        assert_eq!(address("db1"), "db1:3306");
        assert_eq!(address("db1:3307"), "db1:3307");
        assert_eq!(address("mysql://db1:3307"), "db1:3307");
        assert_eq!(address("MariaDB://db1/"), "db1:3306");
        assert_eq!(address("[::1]:3307"), "[::1]:3307");
        assert_eq!(address("mysql://[::1]"), "[::1]:3306");
        let e = parse("127.0.0.1:3306").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 3306));
    }

    #[test]
    fn refusals_name_the_problem_without_a_password() {
        for (bad, words) in [
            ("http://db1:3306", "scheme 'http'"),
            ("db1:0", "not host:port"),
            ("db1:70000", "not host:port"),
            ("db1:port", "not host:port"),
            ("::1", "not host:port"),
            (":3306", "has no host"),
            ("mysql://db1:3306/app", "has a path"),
            (
                "mysql://db1:3306?ssl-mode=REQUIRED",
                "has a path or parameters",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
        for secret in [
            "mysql://monitor:s3cret@db1:3306",
            "http://monitor:s3cret@db1",
        ] {
            let e = parse(secret).unwrap_err();
            assert!(e.contains("auth:") && !e.contains("s3cret"), "{e}");
        }
    }
}
