//! The dbmon gRPC API, package `dbmon.v1`, shared by the host's server and its clients:
//! `use dbmon_proto as proto;`.

#![allow(missing_docs, clippy::all)]

pub mod codec;

/// Generated messages and the `Monitor` service.
pub mod v1 {
    tonic::include_proto!("dbmon.v1");

    /// The encoded file descriptor set, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dbmon_descriptor");
}

pub use v1::*;

/// Operating a running host (package `dbmon.admin.v1`): the `Admin` service.
pub mod admin {
    /// Generated messages and the `Admin` service.
    pub mod v1 {
        tonic::include_proto!("dbmon.admin.v1");
    }

    pub use v1::*;
}

/// From collectors to servers (package `dbmon.ingest.v1`): the `Ingest` service.
pub mod ingest {
    /// Generated messages and the `Ingest` service.
    pub mod v1 {
        tonic::include_proto!("dbmon.ingest.v1");
    }

    pub use v1::*;
}

/// Between the host and its `dbmon worker` children (package `dbmon.worker.v1`): internal to
/// one build, never served.
pub mod worker {
    tonic::include_proto!("dbmon.worker.v1");
}
