//! What dbmon's benchmark binaries share: readers of a process's CPU time and memory from
//! `/proc`, the bodies the loopback targets serve and the targets themselves, and, for the
//! side-by-side run with other tools (`anchors`), a guard for the programs it starts and a
//! remote-write sink.
//!
//! The binaries (`collect_load`, `abi_call`, `anchors`, ...) are run after `cargo build --release --workspace`;
//! BENCHMARKS.md at the workspace root gives the commands and the results.

pub mod body;
pub mod child;
pub mod procfs;
pub mod sink;
pub mod targets;
