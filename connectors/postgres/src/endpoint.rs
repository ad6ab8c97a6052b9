//! The cluster's `endpoints:`: which forms are accepted, and what each names.

/// The port when an endpoint does not name one.
pub const DEFAULT_PORT: u16 = 5432;

/// One server to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database to connect to.
    pub database: String,
    /// `host:port` (`[::1]:5432` for IPv6): the node's id and address.
    pub address: String,
    /// The user a `postgres://user@host` URL names, as libpq reads it.
    pub user: Option<String>,
}

/// The endpoint as written, with the password of a `user:password@` replaced.
pub fn redacted(text: &str) -> String {
    let rest = split_scheme(text).1;
    let prefix = &text[..text.len() - rest.len()];
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{prefix}{user}:<redacted>@{after}"),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// `("postgres", "u@h/db")` for `postgres://u@h/db`. A "://" after something that cannot be a
/// scheme (`u:pa://ss@h`) is part of a password, not a scheme.
fn split_scheme(text: &str) -> (Option<&str>, &str) {
    match text.split_once("://") {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (Some(scheme), rest)
        }
        _ => (None, text),
    }
}

/// Parses `host`, `host:port`, `[v6]:port`, or `postgres://[user@]host[:port][/database]`
/// (`postgresql://` too). A user name is no secret and libpq URLs often carry one; a password
/// is refused, with the `auth:` lines that replace it.
pub fn parse_endpoint(text: &str, default_database: &str) -> Result<Endpoint, String> {
    let text = text.trim();
    // The userinfo first, at the last '@': a password may hold '/', ':', '?' or '@', and split
    // anywhere else it would end up in the port or the database, or in an error message.
    let (scheme, rest) = split_scheme(text);
    if let Some(scheme) = scheme
        && !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "postgres" | "postgresql"
        )
    {
        return Err(format!(
            "scheme '{scheme}' is not postgres:// or postgresql://"
        ));
    }
    let (user, rest) = match rest.rsplit_once('@') {
        Some((userinfo, rest)) => (Some(user_of(text, userinfo)?), rest),
        None => (None, rest),
    };
    let (authority, database) = match scheme {
        Some(_) => {
            if rest.contains('?') {
                return Err(
                    "query parameters are not supported: TLS comes from the cluster's \
                            tls:, credentials from its auth:"
                        .into(),
                );
            }
            match rest.split_once('/') {
                Some((authority, "")) => (authority, None),
                Some((authority, database)) => (authority, Some(database)),
                None => (rest, None),
            }
        }
        None => (rest, None),
    };
    if let Some(database) = database
        && (database.contains('/') || database.contains('%'))
    {
        return Err(format!("'{database}' is not a plain database name"));
    }
    let (host, port) = split_host_port(authority)?;
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
        database: database.unwrap_or(default_database).to_string(),
        address,
        user,
    })
}

/// The user of a URL's `user@`; a `user:password@` is refused with what to write instead, and
/// without the password.
fn user_of(text: &str, userinfo: &str) -> Result<String, String> {
    let Some((user, _password)) = userinfo.split_once(':') else {
        if userinfo.is_empty() || userinfo.contains(['%', '/', ' ']) {
            return Err(format!(
                "'{userinfo}' is not a plain user name (and a database name cannot hold '@')"
            ));
        }
        return Ok(userinfo.to_string());
    };
    let at = text.rfind('@').unwrap_or(0);
    let start = text.len() - split_scheme(text).1.len();
    let without = match user {
        "" => format!("{}{}", &text[..start], &text[at + 1..]),
        user => format!("{}{}{}", &text[..start], user, &text[at..]),
    };
    let username = match user {
        "" => String::new(),
        user => format!("\n      username: {user}"),
    };
    Err(format!(
        "a password does not belong in the endpoint (it would be in the config for anyone to \
         read, and in logs): write the endpoint as {without} and the password in the cluster's \
         auth:\n    auth:{username}\n      password: ${{env:PG_PASSWORD}}    \
         # or password_file: secrets/pg.txt"
    ))
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ]")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected '{after}' after the address")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write an IPv6 address in brackets: [::1]:5432".into());
            }
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("'{host}' is not a host name"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("'{port}' is not a port number (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let e = parse_endpoint("db1", "postgres").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.address.as_str()),
            ("db1", 5432, "db1:5432")
        );
        let e = parse_endpoint("postgres://10.0.0.1:6432/app", "postgres").unwrap();
        assert_eq!((e.port, e.database.as_str()), (6432, "app"));
        let e = parse_endpoint("postgresql://[::1]/", "x").unwrap();
        assert_eq!(
            (e.host.as_str(), e.address.as_str(), e.database.as_str()),
            ("::1", "[::1]:5432", "x")
        );
        assert!(
            parse_endpoint("::1:5432", "x")
                .unwrap_err()
                .contains("brackets")
        );
        let refused = parse_endpoint("postgres://u:secret@h/db", "x").unwrap_err();
        assert!(refused.contains("auth:\n      username: u\n"), "{refused}");
        assert!(refused.contains("as postgres://u@h/db and"), "{refused}");
        assert!(!refused.contains("secret@"), "{refused}");
        let e = parse_endpoint("postgres://monitor@db:5432/postgres", "x").unwrap();
        assert_eq!(
            (e.user.as_deref(), e.address.as_str()),
            (Some("monitor"), "db:5432")
        );
        assert_eq!(parse_endpoint("db", "x").unwrap().user, None);
        assert!(parse_endpoint("postgres://@db", "x").is_err());
        assert_eq!(
            redacted("postgres://u:secret@h/db"),
            "postgres://u:<redacted>@h/db"
        );
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
        assert!(
            parse_endpoint("postgres://db1/app@x", "x")
                .unwrap_err()
                .contains("cannot hold '@'")
        );
        assert!(
            parse_endpoint("http://h:1", "x")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(parse_endpoint("h:0", "x").unwrap_err().contains("port"));
        assert!(parse_endpoint("h:99999", "x").unwrap_err().contains("port"));
        assert!(parse_endpoint("postgres://h/db?sslmode=require", "x").is_err());
        assert!(
            parse_endpoint(":5432", "x")
                .unwrap_err()
                .contains("no host")
        );
    }

    /// A password with '/', '@' or "://" in it is refused, never shown, never taken for a port
    /// or a database.
    #[test]
    fn passwords_with_separators_are_refused_unseen() {
        for (text, secret, instead) in [
            (
                "postgres://monitor:pa/ss@db1",
                "pa/ss",
                "postgres://monitor@db1 ",
            ),
            ("postgres://u:/s3cr3t@db1", "s3cr3t", "postgres://u@db1 "),
            ("postgres://u:p@ss@db1/app", "p@ss", "postgres://u@db1/app "),
            ("u:pa://ss@db1", "pa://ss", "u@db1 "),
        ] {
            let message = parse_endpoint(text, "x").unwrap_err();
            assert!(message.contains(instead), "{text}: {message}");
            let shown = redacted(text);
            for part in [secret, "pa", "ss", "s3cr3t"] {
                assert!(!message.contains(&format!("'{part}'")), "{text}: {message}");
                assert!(!shown.contains(part), "{text}: {shown}");
            }
            assert!(!message.contains(secret), "{text}: {message}");
        }
    }
}
