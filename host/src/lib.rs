//! The dbmon host as a library: the `dbmon` binary is a thin shell over it, and benchmarks
//! and tests reach the loader and the store through it.
//!
//! Modules in the order data flows: config → plugins → agent → store → api → cli.

pub mod agent;
pub mod api;
pub mod cli;
pub mod config;
pub mod logging;
pub mod plugins;
pub mod serve;
pub mod store;
