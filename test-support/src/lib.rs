//! Shared by the tests and benchmarks of every crate: start the real `dbmon` binary on a free
//! port with a temp plugins folder ([`Host`]), and serve fixed bodies over loopback HTTP
//! ([`HttpServer`]) or HTTPS with certificates from a CA made in the test ([`TestCa`],
//! [`HttpServer::start_tls`]). For connector tests: lookups on a collected report
//! ([`ReportExt`]), the example.yaml and README checks ([`docs`]), and nodes that never answer
//! for the conformance kit ([`SilentHttpNodes`]); a connector's collections with a deadline
//! ([`collect`]). Real etcd clusters ([`etcd`]). redis-server processes, standalone or a six-node
//! Redis Cluster ([`redis`]). PostgreSQL primaries and streaming replicas ([`postgres`]). A
//! loopback server speaking CockroachDB's HTTP formats for a whole cluster ([`cockroach`]).

pub mod cockroach;
pub mod collect;
mod conformance;
pub mod docs;
pub mod etcd;
mod host;
mod http;
pub mod postgres;
mod process;
pub mod readme_kinds;
pub mod redis;
mod report;
mod tls;

pub use conformance::SilentHttpNodes;
pub use host::{Host, built_binary, built_library, json_lines, workspace_file};
pub use http::{HttpServer, Reply, Request};
pub use process::stop_child;
pub use report::ReportExt;
pub use tls::{CertAndKey, TestCa};
