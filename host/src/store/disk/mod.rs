//! The file store: one redb database in the store's folder, the durable copy of every
//! cluster's history (reads are served from memory). Reports reach it through one writer
//! thread that commits them in batches, one fsync per batch ([`writer`]); a report is
//! published only once its batch is committed.
//!
//! On disk: each distinct schema once, by key (its fingerprint, probed on a collision); per
//! report its facts and its values packed against the previous report of its cluster, with
//! a keyframe (values packed against zeros) at least every few reports so that trimming the
//! oldest never loses the base of a kept one.

pub(super) mod format;
mod load;
mod writer;

pub use load::Catalog;
pub use writer::Journal;

use redb::TableDefinition;
use std::path::{Path, PathBuf};

/// The database's file name in the store's folder.
pub const FILE_NAME: &str = "reports.redb";

/// `"format"`: [`format::FORMAT_VERSION`]; `"magic"`: [`MAGIC`].
const META: TableDefinition<&str, u64> = TableDefinition::new("dbmon_meta");
/// Schema key → schema.
const SCHEMAS: TableDefinition<u64, &[u8]> = TableDefinition::new("schemas");
/// Cluster id → its info, as last configured.
const CLUSTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("clusters");
/// Cluster id → the newest sequence recorded (stays when retention drops every report).
const SEQUENCES: TableDefinition<&str, u64> = TableDefinition::new("sequences");
/// (cluster id, sequence) → report record.
const REPORTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("reports");

/// Marks a dbmon store ("dbmonRS1" in ASCII).
const MAGIC: u64 = u64::from_le_bytes(*b"dbmonRS1");

/// Why the file store could not be opened: the folder or the file is not a store of this
/// version, or does not read. Nothing is ever wiped.
#[derive(Debug, thiserror::Error)]
#[error("{}: {why}", path.display())]
pub struct OpenError {
    /// The file or folder at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

impl OpenError {
    fn new(path: &Path, why: impl std::fmt::Display) -> OpenError {
        OpenError {
            path: path.to_owned(),
            why: why.to_string(),
        }
    }
}

/// How long reports are kept, whichever limit is reached first.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Reports per cluster.
    pub history: usize,
    /// Reports collected longer ago than this are dropped.
    pub max_age: Option<std::time::Duration>,
}

impl Retention {
    /// Values are a keyframe at least this often, so that at most this many reports beyond
    /// the retained ones stay on disk as bases.
    pub fn keyframe_every(&self) -> usize {
        (self.history / 2).clamp(1, 256)
    }

    /// Reports collected before this are dropped.
    pub fn cutoff(&self, now: std::time::SystemTime) -> Option<std::time::SystemTime> {
        self.max_age.and_then(|age| now.checked_sub(age))
    }
}

/// Checks the folder: made when missing; holding nothing but the database.
fn check_folder(dir: &Path) -> Result<PathBuf, OpenError> {
    if dir.exists() && !dir.is_dir() {
        return Err(OpenError::new(
            dir,
            "the store's path is a file, not a folder",
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| OpenError::new(dir, format!("cannot make the store's folder: {e}")))?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| OpenError::new(dir, format!("cannot read the store's folder: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| OpenError::new(dir, e))?;
        if entry.file_name() != FILE_NAME {
            return Err(OpenError::new(
                &entry.path(),
                format!(
                    "not part of a dbmon store (the folder holds only {FILE_NAME}); move it \
                     away or point store.path at another folder"
                ),
            ));
        }
    }
    Ok(dir.join(FILE_NAME))
}

#[cfg(test)]
mod tests;
