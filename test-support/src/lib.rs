//! Shared by the tests and benchmarks of every crate: start the real `dbmon` binary on a free
//! port with a temp plugins folder ([`Host`]), and serve fixed bodies over loopback HTTP
//! ([`HttpServer`]).

mod host;
mod http;

pub use host::{Host, built_binary, built_library, workspace_file};
pub use http::{HttpServer, Reply, Request};
