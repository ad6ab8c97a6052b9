//! One server's answer read as figures: what the report and the verdict are made of.

use crate::{
    galera::Galera,
    probe::Answer,
    rates::{Sample, Since, hit_percent},
    replication::{Channel, channel},
};

/// What one server said, as figures; `None` where the server did not say.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// `version` (`10.11.19-MariaDB-0+deb12u1`, `8.4.3`).
    pub version: String,
    /// `mariadb` or `mysql`.
    pub flavor: &'static str,
    /// `Uptime`.
    pub uptime_seconds: Option<f64>,
    /// `Threads_connected`.
    pub connections: Option<f64>,
    /// `max_connections`.
    pub connections_max: Option<f64>,
    /// `Max_used_connections`: the most at once since the server started.
    pub connections_max_used: Option<f64>,
    /// `Threads_running`.
    pub threads_running: Option<f64>,
    /// `Questions`: statements clients sent.
    pub questions: Option<f64>,
    /// `Slow_queries`: statements that took longer than `long_query_time`.
    pub slow_queries: Option<f64>,
    /// `Aborted_connects`: failed connection attempts.
    pub aborted_connects: Option<f64>,
    /// `Innodb_buffer_pool_read_requests`.
    pub read_requests: Option<f64>,
    /// `Innodb_buffer_pool_reads`.
    pub reads: Option<f64>,
    /// `Innodb_buffer_pool_pages_dirty`.
    pub pages_dirty: Option<f64>,
    /// `Innodb_buffer_pool_pages_total`.
    pub pages_total: Option<f64>,
    /// Replication channels, when the server is a replica.
    pub channels: Vec<Channel>,
    /// Why the replication status could not be read, if it could not.
    pub replication_unreadable: Option<String>,
    /// Threads sending the binary log to replicas.
    pub replicas_connected: f64,
    /// The Galera state, on a Galera node.
    pub galera: Option<Galera>,
    /// Rates since the previous collection.
    pub since: Since,
}

impl Figures {
    /// The figures of `answer`, with `since` what its [`Figures::sample`] made of the previous.
    pub fn of(answer: &Answer, since: Since) -> Figures {
        let number = |name: &str| status_number(answer, name);
        let gtid_slave_pos = answer.variables.get("gtid_slave_pos").map(String::as_str);
        Figures {
            version: answer.variables.get("version").cloned().unwrap_or_default(),
            flavor: if answer.is_mariadb() {
                "mariadb"
            } else {
                "mysql"
            },
            uptime_seconds: number("uptime"),
            connections: number("threads_connected"),
            connections_max: answer
                .variables
                .get("max_connections")
                .and_then(|v| v.trim().parse().ok()),
            connections_max_used: number("max_used_connections"),
            threads_running: number("threads_running"),
            questions: number("questions"),
            slow_queries: number("slow_queries"),
            aborted_connects: number("aborted_connects"),
            read_requests: number("innodb_buffer_pool_read_requests"),
            reads: number("innodb_buffer_pool_reads"),
            pages_dirty: number("innodb_buffer_pool_pages_dirty"),
            pages_total: number("innodb_buffer_pool_pages_total"),
            channels: answer
                .channels
                .iter()
                .map(|row| channel(row, gtid_slave_pos))
                .collect(),
            replication_unreadable: answer.replication_unreadable.clone(),
            // The process list shows other accounts' threads only with PROCESS; MariaDB counts
            // its replicas for everyone.
            replicas_connected: answer
                .replicas_connected
                .max(number("slaves_connected").unwrap_or(0.0)),
            galera: Galera::of(answer),
            since,
        }
    }

    /// The counters of `answer` that rates are made from.
    pub fn sample(answer: &Answer) -> Sample {
        Sample {
            at: answer.at,
            uptime_seconds: status_number(answer, "uptime"),
            questions: status_number(answer, "questions"),
            read_requests: status_number(answer, "innodb_buffer_pool_read_requests"),
            reads: status_number(answer, "innodb_buffer_pool_reads"),
        }
    }

    /// `role` of the node: `replica` with replication channels, `source` with replicas
    /// connected, `standalone` with neither.
    pub fn role(&self) -> &'static str {
        if !self.channels.is_empty() {
            "replica"
        } else if self.replicas_connected > 0.0 {
            "source"
        } else {
            "standalone"
        }
    }

    /// connections / connections_max × 100, when both are known.
    pub fn connections_used_percent(&self) -> Option<f64> {
        match (self.connections, self.connections_max) {
            (Some(used), Some(max)) if max > 0.0 => Some(used / max * 100.0),
            _ => None,
        }
    }

    /// The buffer pool hit ratio since the previous collection; since the server started when
    /// there is no previous collection of this server run to compare with. `None` when no page
    /// was requested in between: an idle server has no recent ratio, and the one since it
    /// started would read as a change.
    pub fn hit_percent(&self) -> Option<f64> {
        if self.since.compared {
            return self.since.hit_percent;
        }
        let requests = self.read_requests.filter(|r| *r > 0.0)?;
        Some(hit_percent(requests, self.reads?))
    }

    /// Dirty pages as a percentage of the pool's pages.
    pub fn dirty_percent(&self) -> Option<f64> {
        match (self.pages_dirty, self.pages_total) {
            (Some(dirty), Some(total)) if total > 0.0 => Some(dirty / total * 100.0),
            _ => None,
        }
    }
}

fn status_number(answer: &Answer, name: &str) -> Option<f64> {
    answer.status.get(name).and_then(|v| v.trim().parse().ok())
}
