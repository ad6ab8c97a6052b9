//! Connections to the shared store: one reconnecting connection to a standalone Redis, or a
//! Redis Cluster connection that follows the cluster's slots; TLS and AUTH from `store:`.

use super::SharedOptions;
use redis::{
    Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
};
use std::time::Duration;

/// Time to open a connection, at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to the shared store, cheap to clone (clones share it).
#[derive(Clone)]
pub enum Conn {
    /// A standalone server.
    One(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::One(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::One(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::One(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Connects as `options` say; a command waits at most `response_timeout` for its answer.
/// The error never holds the password.
pub async fn connect(options: &SharedOptions, response_timeout: Duration) -> Result<Conn, String> {
    let mut url = options.url.clone();
    let insecure = options.tls.as_ref().is_some_and(|t| t.insecure_skip_verify);
    if insecure && !url.contains('#') {
        url.push_str(if url.ends_with('/') || url.matches('/').count() > 2 {
            "#insecure"
        } else {
            "/#insecure"
        });
    }
    let mut info = url
        .as_str()
        .into_connection_info()
        .map_err(|e| format!("store.url: {e}"))?;
    let auth = options.auth.as_ref();
    if let Some(auth) = auth {
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &auth.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &auth.password {
            settings = settings.set_password(password);
        }
        info = info.set_redis_settings(settings);
    }
    let certs = certificates(options)?;
    if options.cluster {
        let mut builder = ClusterClientBuilder::new(vec![info])
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(response_timeout)
            .retries(3)
            .max_retry_wait(500);
        if let Some(auth) = auth {
            if let Some(user) = &auth.username {
                builder = builder.username(user);
            }
            if let Some(password) = &auth.password {
                builder = builder.password(password);
            }
        }
        if let Some(certs) = certs {
            builder = builder.certs(certs);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        Ok(Conn::Cluster(connection))
    } else {
        let client = match certs {
            Some(certs) => redis::Client::build_with_tls(info, certs),
            None => redis::Client::open(info),
        }
        .map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Conn::One(manager))
    }
}

/// The CA and client certificate of `store.tls`, read now.
fn certificates(options: &SharedOptions) -> Result<Option<redis::TlsCertificates>, String> {
    let Some(tls) = &options.tls else {
        return Ok(None);
    };
    if tls.ca.is_none() && tls.cert.is_none() {
        return Ok(None);
    }
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("store.tls: cannot read {}: {e}", p.display()))
    };
    let root_cert = tls.ca.as_deref().map(read).transpose()?;
    let client_tls = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        _ => None,
    };
    Ok(Some(redis::TlsCertificates {
        client_tls,
        root_cert,
    }))
}
