//! The binlog sync unit: follows a source's binlog and applies every change
//! downstream exactly once.
//!
//! ## Exactly once, in parallel
//!
//! One reader reads the binlog through the upstream port
//! ([`crate::upstream`]) and puts each row change through the task's
//! rules ([`rows`]); the changes go to `worker-count` apply lanes
//! ([`lane`]), chosen by table and primary key ([`route`]) so that one
//! row's changes stay in order on one lane. After every upstream
//! transaction the reader tells every lane where it ended (a boundary).
//! Each lane commits batches of whole transactions: a batch's statements
//! and the lane's checkpoint row (the position after its last transaction)
//! commit in one fenced downstream transaction (see [`crate::downstream`]).
//! After any crash the reader resumes at the earliest lane checkpoint and
//! each lane skips what its own checkpoint covers, so every change is
//! applied exactly once. A transaction that moves a row from one lane to
//! another, and every DDL, runs alone between barriers (all lanes commit
//! first).
//!
//! ## After a full copy
//!
//! Each copy chunk was read in a snapshot at its own binlog position. The
//! unit starts at the earliest of them and runs in *safe mode* (idempotent
//! statements, see [`crate::sql::dml`]) until it has passed the latest:
//! replaying a change a chunk already contains is harmless, and from the latest chunk
//! position on every change is new, so it is applied exactly once.
//!
//! ## DDL
//!
//! A DDL ends the batch before it (a barrier), is routed and filtered by the
//! task's rules ([`ddl`]) and applied ([`statement`]), then the checkpoint
//! moves past it.
//! If the worker dies between the two, the DDL is applied again on resume;
//! "already dropped" errors of a replayed DDL are taken as already
//! applied, "already exists" ones only when the downstream holds what the
//! statement creates (see [`ddl::execute`]).
//!
//! ## Where each concern lives
//!
//! - [`driver`]: the reader's loop, which hands each event to one of:
//! - [`start`]: claim, checkpoints and resume plan ([`resume`]) of a run;
//! - [`schemas`]: the tracked table definitions a row event is decoded
//!   with, moved on by every DDL and stored with the checkpoints;
//! - [`rows`]: a row event through the rules, shaped for its target
//!   ([`targets`]), a lane per change ([`route`]);
//! - [`transaction`]: holding a transaction's changes until its commit;
//!   conflicts and transactions too big to hold;
//! - [`dispatch`]: the lanes' channels, boundaries and barriers;
//! - [`statement`]: DDL ([`ddl`]) and, in a sharded merge, the shard-DDL
//!   protocol ([`shard`]); [`operated`]: a statement with the `binlog
//!   skip|replace|inject` operation held for it ([`binlog_ops`]);
//! - [`window`]: a sharding group's held rows and their re-read
//!   ([`shard_group`], [`resync`]);
//! - [`progress`]: the progress every part reports, owned in one place
//!   ([`status`] is its pure state).

pub mod binlog_ops;
pub mod ddl;
mod dispatch;
mod driver;
mod error;
pub mod lane;
mod operated;
pub mod progress;
pub mod resume;
pub mod resync;
pub mod route;
mod rows;
pub mod schemas;
pub mod shard;
pub mod shard_group;
mod start;
mod statement;
pub mod status;
pub mod targets;
mod transaction;
pub mod upstream_end;
mod window;

use std::sync::Arc;

use crate::downstream::{Downstream, MetaTables};
use crate::position::Position;
use crate::upstream::BinlogSource;
use dm_rules::TaskRules;
pub use error::SyncError;
use progress::Progress;

/// One source's sync within a task.
#[derive(Debug)]
pub struct SyncJob {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    pub upstream: Arc<dyn BinlogSource>,
    /// Replica server id of the binlog connection.
    pub server_id: u32,
    pub downstream: Arc<dyn Downstream>,
    pub meta: MetaTables,
    pub rules: TaskRules,
    /// Where to start reading.
    pub start: Position,
    /// Safe mode until the binlog passes this position (the latest copy
    /// chunk's).
    pub replay_until: Option<Position>,
    /// The task's `safe-mode`: always idempotent.
    pub always_safe: bool,
    /// Row changes per batch (`syncer.batch`).
    pub batch_rows: usize,
    /// Parallel apply lanes (`syncer.worker-count`).
    pub lanes: usize,
    /// The longest statement the downstream accepts (see `sql::dml`).
    pub statement_bytes: usize,
    /// A sharded merge: table DDLs are coordinated through shard-DDL locks.
    pub sharded: bool,
    /// The leader's shard-DDL operation for this subtask.
    pub shard_ops: shard::Ops,
    /// `binlog-schema` operations held for this subtask when it started,
    /// ascending id (see `crate::schema::SchemaOp`).
    pub schema_ops: Vec<crate::schema::SchemaOp>,
    /// `binlog skip|replace|inject` operations held for this subtask, as
    /// the leader last sent them (see [`binlog_ops`]).
    pub binlog_ops: binlog_ops::Ops,
    /// The subtask's metric handles (each lane resolves its own once).
    pub metrics: Arc<crate::metrics::SubtaskMetrics>,
}

/// How a sync run ended (it never ends on its own otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Fenced { by_epoch: u64 },
}

/// Runs the sync until fenced or an error.
pub async fn run(job: Arc<SyncJob>, progress: Progress) -> Result<SyncOutcome, SyncError> {
    match driver::drive(job, progress).await {
        Ok(outcome) | Err(Ok(outcome)) => Ok(outcome),
        Err(Err(e)) => Err(e),
    }
}

/// Why a run stops early: fenced (`Ok`), or an error. The parts of a run
/// return `Err(stop)` to end it from wherever they are.
type Stop = Result<SyncOutcome, SyncError>;

fn stop(e: impl Into<SyncError>) -> Stop {
    Err(e.into())
}
