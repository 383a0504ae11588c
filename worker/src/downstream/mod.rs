//! The downstream database: transactional writes fenced by the binding
//! epoch, checkpoints, and the copy's chunk records.
//!
//! The downstream port: the [`Downstream`] trait and its vocabulary (meta
//! tables, checkpoints, the fence's [`Commit`], copy chunks, lane and chunk
//! transactions, shard-DDL intents; one error type, [`DownstreamError`])
//! here; the MySQL / MariaDB adapter beside it in [`mysql`]
//! ([`MySqlDownstream`], the only place the client library is used). The
//! simulation's in-memory database and the conformance suite both pass are
//! test support (`dm-worker-testkit`: `downstream::MemDownstream`,
//! `conformance::downstream`).
//!
//! Everything the worker keeps lives downstream, in the task's meta schema
//! (`dm_meta` by default), next to the data it describes:
//!
//! - `<task>_fence`: one row per source with the epoch of the binding that
//!   owns the source's writes;
//! - `<task>_checkpoint`: one row per (source, lane) with the binlog
//!   position applied so far;
//! - `<task>_copy_chunk`: the full copy's plan, one row per key-range chunk,
//!   with its done-mark and the binlog position of the snapshot it was read
//!   in (see [`crate::copy`]);
//! - `<task>_shard_ddl`: per source, the shard DDL its worker was about to
//!   run as a lock's owner (see `shard_intent`);
//! - `<task>_shard_group`: per source, the open window of a sharding group
//!   within the source (see `mysql::shard_groups`).
//!
//! ## The fence
//!
//! A worker that starts running a source first *claims* it: it locks the
//! source's fence row exclusively and, unless a larger epoch is stored,
//! writes its own epoch there. Every transaction it commits afterwards
//! begins by reading the fence row with a shared lock and rolls back when
//! the row no longer holds its epoch:
//!
//! - the shared locks of one worker's parallel writers do not conflict, so
//!   its lanes commit in parallel;
//! - a claim waits for every open transaction that read the row, and every
//!   transaction that starts after the claim sees the new epoch; so once
//!   the new owner claimed, no transaction of an older epoch commits, data
//!   and checkpoint alike. That holds when the old worker was paused
//!   (SIGSTOP) or cut off and never heard of the move;
//! - a paused old worker may sit on an open transaction and its locks
//!   forever; the claimant kills such blockers (they can only roll back).
//!
//! A worker that finds itself fenced stops the source, reports it, and never
//! retries under the old epoch.

mod api;
mod chunks;
pub mod mysql;
mod schema_state;
mod shard_intent;
mod sync_tx;

pub use crate::db_error::{DbError, DbFault};
pub use crate::position::Position;
pub use api::{Call, Downstream};
pub use chunks::{ChunkDone, ChunkTx, OpenChunk, StoredChunk};
pub use mysql::{db_opts, FencedTx, MySqlDownstream};
pub use schema_state::StoredSchema;
pub use shard_intent::ShardIntent;
pub use sync_tx::{OpenSync, SyncTx};

/// The meta tables of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaTables {
    /// Schema holding them (the task's `meta-schema`).
    pub meta_schema: String,
    pub task: String,
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

impl CheckpointKey {
    pub fn meta(&self) -> MetaTables {
        MetaTables {
            meta_schema: self.meta_schema.clone(),
            task: self.task.clone(),
        }
    }
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub epoch: u64,
    pub position: Position,
}

/// The outcome of a fenced commit or a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// Changes and checkpoint committed (or the source claimed).
    Committed,
    /// A larger epoch owns the source: nothing was committed.
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
        source: DbError,
    },
    #[error("meta table name `{0}` is not valid: {1}")]
    Name(String, &'static str),
    #[error("source {source_id} is not claimed by epoch {epoch} (the fence holds epoch {stored}); claim it first")]
    NotClaimed {
        source_id: String,
        epoch: u64,
        stored: u64,
    },
    #[error("downstream {addr}: {what}")]
    Unexpected { addr: String, what: String },
}

/// A statement the downstream server refused: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub message: String,
}

impl DownstreamError {
    /// The server's refusal behind this error, when the server refused a
    /// statement (rather than the connection failing).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            DownstreamError::Database { source, .. } => match source.fault() {
                DbFault::Refused { code, message } => Some(Refusal {
                    code: *code,
                    message: message.clone(),
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether retrying the same work later may succeed (lost connection,
    /// lock wait timeout, deadlock, server gone) rather than a problem with
    /// the statements or the data.
    pub fn is_transient(&self) -> bool {
        match self {
            DownstreamError::Database { source, .. } => match source.fault() {
                DbFault::Refused { code, .. } => matches!(code, 1205 | 1213 | 1927 | 2006 | 2013),
                DbFault::Connection => true,
                DbFault::Other => false,
            },
            _ => false,
        }
    }
}
