//! What dbmon's benchmark binaries share: readers of a process's CPU time and memory from
//! `/proc`, and the bodies the loopback targets serve.
//!
//! The binaries (`collect_load`, `abi_call`) are run after `cargo build --release --workspace`;
//! BENCHMARKS.md at the workspace root gives the commands and the results.

pub mod body;
pub mod procfs;
