//! The sync's progress, owned here.
//!
//! The reader, the lanes, the shard-DDL steps and the upstream-end poller
//! all move it, and the subtask's heartbeat reads it. Every change is one
//! of the methods below, so who moves what is found in one file; the state
//! and the status it reports are pure ([`SyncProgress`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dm_proto::pb;

use super::status::SyncProgress;
use crate::downstream::Position;
use crate::lock;

/// A handle on one sync run's progress (clones share it).
#[derive(Debug, Clone)]
pub struct Progress(Arc<Mutex<SyncProgress>>);

impl Progress {
    /// Progress of a sync about to start at `start`.
    pub fn new(start: Position) -> Self {
        Self(Arc::new(Mutex::new(SyncProgress::new(
            Instant::now(),
            vec![start],
        ))))
    }

    /// The run starts over with its lanes at `lanes` (the `binlog-schema`
    /// operations it applied stay applied).
    pub fn restart(&self, lanes: Vec<Position>) {
        let mut p = lock(&self.0);
        let applied = p.schema_ops_applied;
        let done = std::mem::take(&mut p.binlog_ops_done);
        *p = SyncProgress::new(Instant::now(), lanes);
        p.schema_ops_applied = applied;
        p.binlog_ops_done = done;
    }

    /// The `binlog` operation `id` is done: applied with the checkpoint
    /// that passed its event, or passed without meeting one.
    pub fn binlog_op_done(&self, id: u64) {
        lock(&self.0).binlog_ops_done.insert(id);
    }

    /// The `binlog` operations done so far.
    pub fn binlog_ops_done(&self) -> std::collections::BTreeSet<u64> {
        lock(&self.0).binlog_ops_done.clone()
    }

    /// The run stops on an error about the event at `at`.
    pub fn error_at(&self, at: super::status::ErrorAt) {
        lock(&self.0).error_at = Some(at);
    }

    /// The `binlog-schema` operations up to `id` are applied and persisted
    /// (the report tells the leader, which then stops sending them).
    pub fn schema_ops_applied(&self, id: u64) {
        let mut p = lock(&self.0);
        p.schema_ops_applied = p.schema_ops_applied.max(id);
    }

    /// The reader read an event ending at `end`, written at `timestamp`.
    pub fn read(&self, end: &Position, timestamp: u32) {
        let mut p = lock(&self.0);
        p.read = end.clone();
        if timestamp > 0 && p.committed.binlog_pos == p.read.binlog_pos {
            p.lag_seconds = 0;
        }
    }

    /// The upstream's heartbeat: nothing new to read.
    pub fn heartbeat(&self) {
        let mut p = lock(&self.0);
        if p.committed.binlog_pos == p.read.binlog_pos
            && p.committed.binlog_name == p.read.binlog_name
        {
            p.lag_seconds = 0;
        }
    }

    /// Lane `lane` committed `rows` row changes up to `at` (see
    /// [`SyncProgress::lane_committed`]).
    pub fn lane_committed(&self, lane: usize, at: &Position, rows: u64, timestamp: u32) {
        lock(&self.0).lane_committed(lane, at, rows, timestamp, Instant::now());
    }

    /// Where the upstream's binlog ends now.
    pub fn upstream_end(&self, end: Position) {
        lock(&self.0).upstream_end = Some(end);
    }

    /// The open window of the source's sharding group, if any.
    pub fn shard_group(&self, window: Option<pb::ShardingGroup>) {
        lock(&self.0).shard_group = window;
    }

    /// The shard DDL the source waits at.
    pub fn shard_ddl(&self, info: pb::ShardDdlInfo) {
        lock(&self.0).shard_ddl = Some(info);
    }

    /// The source executed or skipped the shard DDL it waited at.
    pub fn shard_ddl_done(&self) {
        if let Some(info) = lock(&self.0).shard_ddl.as_mut() {
            info.done = true;
        }
    }

    /// A shard DDL at `at` that the leader still asks about: reported done
    /// (`info`) when the checkpoints are already past it and it is not
    /// reported done yet; whether it was.
    pub fn shard_ddl_passed(&self, at: &Position, info: pb::ShardDdlInfo) -> bool {
        let mut p = lock(&self.0);
        let reported = p
            .shard_ddl
            .as_ref()
            .is_some_and(|i| i.lock_id == info.lock_id && i.done);
        if reported || !at.at_or_before(&p.committed) {
            return false;
        }
        p.shard_ddl = Some(info);
        true
    }

    /// Something that may make this run wrong without stopping it.
    pub fn warn(&self, warning: String) {
        let mut p = lock(&self.0);
        if !p.warnings.contains(&warning) {
            p.warnings.push(warning);
        }
    }

    /// A copy of the state, for the status report.
    pub fn snapshot(&self) -> SyncProgress {
        lock(&self.0).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u32) -> Position {
        Position {
            binlog_name: "mysql-bin.000001".into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    #[test]
    fn applied_schema_operations_only_grow_and_outlive_a_restart() {
        let progress = Progress::new(at(4));
        assert_eq!(progress.snapshot().schema_ops_applied, 0);
        progress.schema_ops_applied(5);
        progress.schema_ops_applied(3);
        assert_eq!(progress.snapshot().schema_ops_applied, 5);
        progress.restart(vec![at(100), at(120)]);
        let p = progress.snapshot();
        assert_eq!(p.schema_ops_applied, 5);
        assert_eq!(p.committed, at(100));
    }
}
