//! The upstream database: consistent snapshots for the full copy, and the
//! plan of key-range chunks a table is copied in.
//!
//! A copy reads every table inside one `REPEATABLE READ` snapshot per reader
//! connection and records the binlog position that snapshot corresponds to:
//! replaying the binlog from there brings the copy up to date. MariaDB gives
//! that position without any lock (`binlog_snapshot_file/position`, which
//! are exactly at the snapshot); MySQL needs `FLUSH TABLES WITH READ LOCK`
//! for a moment while the snapshot starts.

mod binlog_status;
mod chunks;
pub mod memory;
mod snapshot;

pub use binlog_status::binlog_status;
pub use chunks::{plan_int_chunks, Chunk};
pub use snapshot::{open_snapshot, open_snapshots, Snapshot};

/// The upstream layer's one error type.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream {addr}: {what}: {source}")]
    Database {
        addr: String,
        what: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error("upstream {addr}: {what}")]
    Unexpected { addr: String, what: String },
}
