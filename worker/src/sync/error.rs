//! The sync unit's one error type, and which of its errors a retry may
//! cure.

use crate::downstream::DownstreamError;
use crate::upstream::UpstreamError;

/// The sync unit's one error type.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("binlog: {0}")]
    Decode(String),
    /// A binlog position that the upstream does not have.
    #[error("binlog position: {0}")]
    Position(String),
    /// A row change that cannot be applied as logged.
    #[error("{table} at {at}: {error}; set binlog_row_image=FULL for the sessions that write it upstream, then start the task again from a position after these events")]
    Row {
        table: String,
        at: String,
        error: String,
    },
    /// The schema tracker cannot follow the binlog, or a row event does
    /// not match the tracked definition (see `sync::schemas`).
    #[error("schema tracker: {0}")]
    Schema(String),
    #[error("rules: {0}")]
    Rules(String),
    #[error("shard DDL: {0}")]
    ShardDdl(String),
    #[error("DDL `{sql}` cannot be applied: {error}")]
    Ddl { sql: String, error: String },
    #[error(transparent)]
    RowTooLarge(#[from] crate::sql::RowTooLarge),
    #[error("the upstream closed the binlog stream")]
    Closed,
}

impl SyncError {
    /// Whether running again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Upstream(e) => e.binlog_retryable(),
            SyncError::Downstream(e) => e.is_transient(),
            SyncError::Closed => true,
            _ => false,
        }
    }
}
