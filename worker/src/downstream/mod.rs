//! The downstream database: transactional writes fenced by the binding
//! epoch, and checkpoints.
//!
//! Checkpoints live downstream, in the task's meta schema (`dm_meta` by
//! default), one row per (source, lane). Every transaction a worker commits
//! downstream carries its checkpoint update and is conditional on the fence:
//!
//! 1. lock the checkpoint row (`SELECT ... FOR UPDATE`);
//! 2. if its epoch is larger than the worker's, roll back: another worker
//!    was given the source since (the caller stops the source, reports it
//!    fenced, and never retries under the old epoch);
//! 3. otherwise apply the changes, write the new position and the worker's
//!    epoch into the row, and commit.
//!
//! The row lock orders the old and the new worker's transactions, so once
//! the new worker committed anything, no transaction of the old one can
//! commit: data and checkpoint move together or not at all. That holds even
//! when the old worker was paused (SIGSTOP) or cut off and never heard of
//! the move.

mod mysql;

use std::fmt;

pub use mysql::MySqlDownstream;

/// Where a subtask's changes come from: a binlog position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
}

/// Identifies one checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointKey {
    /// Schema holding the checkpoint tables (the task's `meta-schema`).
    pub meta_schema: String,
    pub task: String,
    pub source: String,
    /// Parallel apply lane (0 for a single lane).
    pub lane: u32,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub epoch: u64,
    pub position: Position,
}

/// The outcome of a fenced commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// Changes and checkpoint committed.
    Committed,
    /// A larger epoch wrote the checkpoint: nothing was committed.
    Fenced { by_epoch: u64 },
}

/// The downstream layer's one error type.
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    #[error("downstream {addr}: {what}: {source}")]
    Database {
        addr: String,
        what: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error("checkpoint table name `{0}` is not valid: {1}")]
    Name(String, &'static str),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.binlog_name, self.binlog_pos)?;
        if !self.binlog_gtid.is_empty() {
            write!(f, " gtid {}", self.binlog_gtid)?;
        }
        Ok(())
    }
}
