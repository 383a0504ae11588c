//! `binlog skip|replace|inject|revert` (DM 2.0.7: `handle-error`): what to
//! do with one binlog event of a subtask, held in Raft until the subtask
//! passed that event. Pure.
//!
//! The protocol, level-triggered like `binlog-schema`'s (see `schema_ops`):
//!
//! 1. `SetBinlogOps` stores one operation per (task, source, position),
//!    each with the next id of the cluster-wide counter
//!    [`ClusterState::next_binlog_op`]. An operation at a position that
//!    already has one replaces it (as DM) under a new id. The same command
//!    resumes the named subtasks (those paused by an error: the service
//!    picks them), as DM resumes a subtask after an operation.
//! 2. Every heartbeat answer carries the subtask's operations to the
//!    worker bound to its source, whichever worker that is now.
//! 3. The sync applies an operation when it reaches the event that starts
//!    at its position, durably with the checkpoint that passes the event,
//!    and reports its id done (an operation whose position the stream
//!    passed without meeting an event there is reported done too, with a
//!    warning).
//! 4. A report listing done ids becomes `BinlogOpsDone`, which drops them.
//!    Nothing depends on a message arriving once.
//!
//! `RevertBinlogOp` drops an operation not done yet; stopping a task (or
//! some of its sources) drops their operations.

use dm_proto::binlog_op::BinlogAt;
use serde::{Deserialize, Serialize};

use super::{ClusterState, Rejection, TaskStage};

/// What to do with the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinlogOpKind {
    /// Do not apply it (the tracker still follows it).
    Skip,
    /// Run these statements instead.
    Replace(Vec<String>),
    /// Run these statements first, then the event.
    Inject(Vec<String>),
}

impl BinlogOpKind {
    /// The operation's name, as dmctl calls it.
    pub fn name(&self) -> &'static str {
        match self {
            BinlogOpKind::Skip => "skip",
            BinlogOpKind::Replace(_) => "replace",
            BinlogOpKind::Inject(_) => "inject",
        }
    }

    pub fn sqls(&self) -> &[String] {
        match self {
            BinlogOpKind::Skip => &[],
            BinlogOpKind::Replace(s) | BinlogOpKind::Inject(s) => s,
        }
    }
}

/// An operation as `binlog` asks for it, for one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBinlogOp {
    pub source: String,
    pub at: BinlogAt,
    pub kind: BinlogOpKind,
}

/// An operation held for one subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogOp {
    pub id: u64,
    pub at: BinlogAt,
    pub kind: BinlogOpKind,
    /// Leader's clock at proposal, Unix milliseconds.
    pub added_at_ms: u64,
}

pub(super) fn first_binlog_op() -> u64 {
    1
}

impl ClusterState {
    /// Stores `ops` for sources of `task`, all or none (each replaces one
    /// at its position), and resumes `resume`; their ids in order.
    pub(super) fn set_binlog_ops(
        &mut self,
        task: &str,
        ops: &[NewBinlogOp],
        resume: &[String],
        now_ms: u64,
    ) -> Result<Vec<u64>, Rejection> {
        let entry = self
            .tasks
            .get_mut(task)
            .ok_or_else(|| Rejection::TaskNotFound(task.to_string()))?;
        if let Some(source) = ops
            .iter()
            .map(|op| &op.source)
            .chain(resume)
            .find(|s| !entry.stages.contains_key(*s))
        {
            return Err(Rejection::SourceNotInTask {
                task: task.to_string(),
                source_id: source.clone(),
            });
        }
        for source in resume {
            // Never a subtask the user paused.
            if entry.stages.get(source) == Some(&TaskStage::Running) {
                *entry.resumes.entry(source.clone()).or_default() += 1;
            }
        }
        let mut ids = Vec::with_capacity(ops.len());
        for op in ops {
            let id = self.next_binlog_op;
            self.next_binlog_op += 1;
            let held = self
                .binlog_ops
                .entry(task.to_string())
                .or_default()
                .entry(op.source.clone())
                .or_default();
            held.retain(|h| h.at != op.at);
            held.push(BinlogOp {
                id,
                at: op.at.clone(),
                kind: op.kind.clone(),
                added_at_ms: now_ms,
            });
            held.sort_by(|a, b| a.at.cmp(&b.at));
            ids.push(id);
        }
        Ok(ids)
    }

    /// Drops the operation at `at` for `source` of `task`.
    pub(super) fn revert_binlog_op(
        &mut self,
        task: &str,
        source: &str,
        at: &BinlogAt,
    ) -> Result<u64, Rejection> {
        let not_found = || Rejection::BinlogOpNotFound(at.to_string());
        let by_source = self.binlog_ops.get_mut(task).ok_or_else(not_found)?;
        let held = by_source.get_mut(source).ok_or_else(not_found)?;
        let index = held
            .iter()
            .position(|op| op.at == *at)
            .ok_or_else(not_found)?;
        let id = held.remove(index).id;
        self.binlog_ops_prune(task, source);
        Ok(id)
    }

    /// The subtask of `task` on `source` is done with the operations `ids`.
    pub(super) fn binlog_ops_done(&mut self, task: &str, source: &str, ids: &[u64]) {
        if let Some(held) = self
            .binlog_ops
            .get_mut(task)
            .and_then(|by_source| by_source.get_mut(source))
        {
            held.retain(|op| !ids.contains(&op.id));
        }
        self.binlog_ops_prune(task, source);
    }

    /// Drops the operations of `sources` of `task`.
    pub(super) fn binlog_ops_sources_left(&mut self, task: &str, sources: &[String]) {
        if let Some(by_source) = self.binlog_ops.get_mut(task) {
            for source in sources {
                by_source.remove(source);
            }
            if by_source.is_empty() {
                self.binlog_ops.remove(task);
            }
        }
    }

    fn binlog_ops_prune(&mut self, task: &str, source: &str) {
        if let Some(by_source) = self.binlog_ops.get_mut(task) {
            if by_source.get(source).is_some_and(Vec::is_empty) {
                by_source.remove(source);
            }
            if by_source.is_empty() {
                self.binlog_ops.remove(task);
            }
        }
    }

    /// The operations held for `task` on `source`, by position.
    pub fn binlog_ops_of(&self, task: &str, source: &str) -> &[BinlogOp] {
        self.binlog_ops
            .get(task)
            .and_then(|s| s.get(source))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Command, Response};

    fn state() -> ClusterState {
        crate::state::test_support::task_on_two_sources(TaskStage::Running)
    }

    fn at(pos: u32) -> BinlogAt {
        BinlogAt::File {
            name: "mysql-bin.000001".into(),
            pos,
        }
    }

    fn op(source: &str, pos: u32, kind: BinlogOpKind) -> NewBinlogOp {
        NewBinlogOp {
            source: source.into(),
            at: at(pos),
            kind,
        }
    }

    fn set(state: &mut ClusterState, ops: Vec<NewBinlogOp>, resume: &[&str]) -> Response {
        state.apply(
            &Command::SetBinlogOps {
                task: "t".into(),
                ops,
                resume: resume.iter().map(|s| s.to_string()).collect(),
            },
            7,
        )
    }

    fn held(state: &ClusterState, source: &str) -> Vec<(u64, u32, &'static str)> {
        state
            .binlog_ops_of("t", source)
            .iter()
            .map(|op| {
                let BinlogAt::File { pos, .. } = op.at else {
                    panic!("a file position")
                };
                (op.id, pos, op.kind.name())
            })
            .collect()
    }

    #[test]
    fn operations_are_held_by_position_and_the_same_position_is_replaced() {
        let mut state = state();
        let replace = BinlogOpKind::Replace(vec!["ALTER TABLE db.t ADD c INT".into()]);
        assert_eq!(
            set(
                &mut state,
                vec![op("s1", 900, BinlogOpKind::Skip), op("s1", 400, replace)],
                &[]
            ),
            Response::BinlogOps { ids: vec![1, 2] }
        );
        assert_eq!(held(&state, "s1"), [(2, 400, "replace"), (1, 900, "skip")]);
        // DM: a later operation at the same position overwrites.
        assert_eq!(
            set(&mut state, vec![op("s1", 400, BinlogOpKind::Skip)], &[]),
            Response::BinlogOps { ids: vec![3] }
        );
        assert_eq!(held(&state, "s1"), [(3, 400, "skip"), (1, 900, "skip")]);
        assert_eq!(state.binlog_ops_of("t", "s1")[0].added_at_ms, 7);
        assert!(held(&state, "s2").is_empty());
    }

    #[test]
    fn the_command_resumes_running_subtasks_only() {
        let mut state = state();
        state.apply(
            &Command::SetTaskStage {
                name: "t".into(),
                sources: vec!["s2".into()],
                stage: TaskStage::Paused,
            },
            3,
        );
        set(
            &mut state,
            vec![op("s1", 4, BinlogOpKind::Skip)],
            &["s1", "s2"],
        );
        let task = &state.tasks["t"];
        assert_eq!(task.resumes.get("s1"), Some(&1));
        assert_eq!(
            task.resumes.get("s2"),
            None,
            "a paused subtask stays paused"
        );
    }

    #[test]
    fn unknown_task_or_source_stores_nothing() {
        let mut state = state();
        assert_eq!(
            set(
                &mut state,
                vec![
                    op("s1", 4, BinlogOpKind::Skip),
                    op("s9", 4, BinlogOpKind::Skip)
                ],
                &["s1"]
            ),
            Response::Rejected(Rejection::SourceNotInTask {
                task: "t".into(),
                source_id: "s9".into()
            })
        );
        assert!(state.binlog_ops.is_empty());
        assert!(state.tasks["t"].resumes.is_empty());
        assert_eq!(state.next_binlog_op, 1);
    }

    #[test]
    fn revert_done_and_stop_drop_operations() {
        let mut state = state();
        set(
            &mut state,
            vec![
                op("s1", 4, BinlogOpKind::Skip),
                op("s1", 8, BinlogOpKind::Skip),
                op("s2", 4, BinlogOpKind::Skip),
            ],
            &[],
        );
        let revert = |pos| Command::RevertBinlogOp {
            task: "t".into(),
            source: "s1".into(),
            at: at(pos),
        };
        assert_eq!(state.apply(&revert(8), 9), Response::Done);
        assert_eq!(
            state.apply(&revert(8), 9),
            Response::Rejected(Rejection::BinlogOpNotFound("(mysql-bin.000001, 8)".into()))
        );
        assert_eq!(
            Rejection::BinlogOpNotFound("(mysql-bin.000001, 8)".into()).to_string(),
            "error operator not exist, position: (mysql-bin.000001, 8)"
        );
        let done = Command::BinlogOpsDone {
            task: "t".into(),
            source: "s1".into(),
            ids: vec![1, 3],
        };
        assert_eq!(state.apply(&done, 9), Response::Done);
        assert!(held(&state, "s1").is_empty());
        assert_eq!(held(&state, "s2"), [(3, 4, "skip")], "another source's ids");
        state.apply(
            &Command::StopTask {
                name: "t".into(),
                sources: vec![],
            },
            9,
        );
        assert!(state.binlog_ops.is_empty());
        assert_eq!(state.next_binlog_op, 4);
    }
}
