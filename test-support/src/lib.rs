//! Shared by the tests and benchmarks of every crate: start the real `dbmon` binary on a free
//! port with a temp plugins folder ([`Host`]), and serve fixed bodies over loopback HTTP
//! ([`HttpServer`]) or HTTPS with certificates from a CA made in the test ([`TestCa`],
//! [`HttpServer::start_tls`]).

mod host;
mod http;
mod tls;

pub use host::{Host, built_binary, built_library, workspace_file};
pub use http::{HttpServer, Reply, Request};
pub use tls::{CertAndKey, TestCa};
