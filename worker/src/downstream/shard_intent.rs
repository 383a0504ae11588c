//! `<task>_shard_ddl`: what a source's worker was about to run for a
//! shard-DDL lock it owns, so that a worker resuming its role can tell
//! whether the DDL already ran.
//!
//! A DDL commits on its own (MySQL runs it outside any transaction), so it
//! cannot commit with the checkpoint that moves past it. The owner first
//! records, in a fenced transaction, the lock, the DDL's binlog position and
//! the target table's `SHOW CREATE TABLE` before the change; then runs the
//! DDL; then moves the checkpoints past it. A worker that meets the same
//! lock at the same position again (the owner died in between) finds the
//! record: if the table no longer looks as recorded, the DDL ran and is not
//! run again.

/// The owner's record of a DDL it is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIntent {
    pub lock_id: String,
    pub binlog_name: String,
    pub binlog_pos: u32,
    /// `SHOW CREATE TABLE` of the target before the DDL (`None`: absent).
    pub table_before: Option<String>,
}
