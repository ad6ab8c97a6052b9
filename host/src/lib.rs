//! The dbmon host as a library: the `dbmon` binary is a thin shell over it, and benchmarks
//! and tests reach the loader and the store through it.
//!
//! How data flows: config → plugins → runner (in process, or an isolation worker) → agent →
//! store → api → cli. `author` holds the connector author's commands (`dbmon connector`).

pub mod agent;
pub mod alerts;
pub mod api;
pub mod author;
pub mod cli;
pub mod completions;
pub mod config;
pub mod coordination;
pub mod health_check;
pub mod http;
pub mod ingest;
pub mod isolation;
pub mod listener;
pub mod live;
pub mod logging;
pub mod names;
pub mod plugins;
pub mod rules;
pub mod runner;
pub mod security;
pub mod serve;
pub mod store;
pub mod version;
pub mod web;
