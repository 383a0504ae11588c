//! `binlog-schema update` / `delete`: operations on a subtask's tracked
//! table definitions, held in Raft until the subtask applied them. Pure.
//!
//! The protocol, level-triggered like the rest of the heartbeat:
//!
//! 1. `AddSchemaOps` stores one operation per (task, source), each with the
//!    next id of the cluster-wide counter [`ClusterState::next_schema_op`]
//!    (ids only grow, so a subtask's operations are in id order and an id
//!    is never reused, even by a task stopped and started again).
//! 2. Every heartbeat answer carries the subtask's pending operations to
//!    the worker bound to its source, whichever worker that is now.
//! 3. The sync applies the operations whose id is above the one it
//!    persisted with its checkpoint, when it starts (a paused subtask that
//!    resumes), and reports the highest id applied.
//! 4. A report at or above a pending id becomes `SchemaOpsApplied`, which
//!    drops the operations up to it. Nothing depends on a message arriving
//!    once: an operation is sent until the report says it was applied, and
//!    the worker's persisted id makes a second delivery a no-op.
//!
//! Stopping a task (or some of its sources) drops their operations.

use serde::{Deserialize, Serialize};

use super::{ClusterState, Rejection};

/// An operation as `binlog-schema` asks for it, for one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSchemaOp {
    pub source: String,
    /// The upstream table.
    pub schema: String,
    pub table: String,
    /// The definition to track (a CREATE TABLE statement); `None` deletes
    /// the tracked definition.
    #[serde(default)]
    pub create: Option<String>,
}

/// An operation held for one subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaOp {
    pub id: u64,
    pub schema: String,
    pub table: String,
    #[serde(default)]
    pub create: Option<String>,
    /// Leader's clock at proposal, Unix milliseconds.
    pub added_at_ms: u64,
}

pub(super) fn first_schema_op() -> u64 {
    1
}

impl ClusterState {
    /// Stores `ops` for sources of `task`, all or none; their ids in order.
    pub(super) fn add_schema_ops(
        &mut self,
        task: &str,
        ops: &[NewSchemaOp],
        now_ms: u64,
    ) -> Result<Vec<u64>, Rejection> {
        let entry = self
            .tasks
            .get(task)
            .ok_or_else(|| Rejection::TaskNotFound(task.to_string()))?;
        if let Some(op) = ops.iter().find(|op| !entry.stages.contains_key(&op.source)) {
            return Err(Rejection::SourceNotInTask {
                task: task.to_string(),
                source_id: op.source.clone(),
            });
        }
        let mut ids = Vec::with_capacity(ops.len());
        for op in ops {
            let id = self.next_schema_op;
            self.next_schema_op += 1;
            self.schema_ops
                .entry(task.to_string())
                .or_default()
                .entry(op.source.clone())
                .or_default()
                .push(SchemaOp {
                    id,
                    schema: op.schema.clone(),
                    table: op.table.clone(),
                    create: op.create.clone(),
                    added_at_ms: now_ms,
                });
            ids.push(id);
        }
        Ok(ids)
    }

    /// The subtask of `task` on `source` applied the operations up to
    /// `applied`: they are dropped.
    pub(super) fn schema_ops_applied(&mut self, task: &str, source: &str, applied: u64) {
        let Some(by_source) = self.schema_ops.get_mut(task) else {
            return;
        };
        if let Some(ops) = by_source.get_mut(source) {
            ops.retain(|op| op.id > applied);
            if ops.is_empty() {
                by_source.remove(source);
            }
        }
        if by_source.is_empty() {
            self.schema_ops.remove(task);
        }
    }

    /// Drops the operations of `sources` of `task`.
    pub(super) fn schema_ops_sources_left(&mut self, task: &str, sources: &[String]) {
        if let Some(by_source) = self.schema_ops.get_mut(task) {
            for source in sources {
                by_source.remove(source);
            }
            if by_source.is_empty() {
                self.schema_ops.remove(task);
            }
        }
    }

    /// The operations held for `task` on `source`, ascending id.
    pub fn schema_ops_of(&self, task: &str, source: &str) -> &[SchemaOp] {
        self.schema_ops
            .get(task)
            .and_then(|s| s.get(source))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Command, Response, TaskStage};

    fn state() -> ClusterState {
        crate::state::test_support::task_on_two_sources(TaskStage::Paused)
    }

    fn op(source: &str, table: &str, create: Option<&str>) -> NewSchemaOp {
        NewSchemaOp {
            source: source.into(),
            schema: "db".into(),
            table: table.into(),
            create: create.map(str::to_string),
        }
    }

    fn add(state: &mut ClusterState, task: &str, ops: Vec<NewSchemaOp>) -> Response {
        state.apply(
            &Command::AddSchemaOps {
                task: task.into(),
                ops,
            },
            7,
        )
    }

    #[test]
    fn operations_get_growing_ids_and_wait_per_subtask() {
        let mut state = state();
        let create = "CREATE TABLE tb (id INT)";
        assert_eq!(
            add(
                &mut state,
                "t",
                vec![op("s1", "tb", Some(create)), op("s2", "tb", Some(create))]
            ),
            Response::SchemaOps { ids: vec![1, 2] }
        );
        assert_eq!(
            add(&mut state, "t", vec![op("s1", "tb", None)]),
            Response::SchemaOps { ids: vec![3] }
        );
        let s1: Vec<(u64, Option<&str>)> = state
            .schema_ops_of("t", "s1")
            .iter()
            .map(|o| (o.id, o.create.as_deref()))
            .collect();
        assert_eq!(s1, [(1, Some(create)), (3, None)]);
        assert_eq!(state.schema_ops_of("t", "s1")[0].added_at_ms, 7);
        assert_eq!(state.schema_ops_of("t", "s2").len(), 1);
        assert_eq!(state.next_schema_op, 4);
    }

    #[test]
    fn an_unknown_task_or_source_is_refused_and_nothing_is_stored() {
        let mut state = state();
        assert_eq!(
            add(&mut state, "nope", vec![op("s1", "tb", None)]),
            Response::Rejected(Rejection::TaskNotFound("nope".into()))
        );
        assert_eq!(
            add(
                &mut state,
                "t",
                vec![op("s1", "tb", None), op("s9", "tb", None)]
            ),
            Response::Rejected(Rejection::SourceNotInTask {
                task: "t".into(),
                source_id: "s9".into()
            })
        );
        assert!(state.schema_ops.is_empty());
        assert_eq!(state.next_schema_op, 1);
    }

    #[test]
    fn applied_operations_are_dropped_up_to_the_reported_id() {
        let mut state = state();
        add(
            &mut state,
            "t",
            vec![
                op("s1", "a", None),
                op("s1", "b", None),
                op("s2", "a", None),
            ],
        );
        let applied = |task: &str, source: &str, applied: u64| Command::SchemaOpsApplied {
            task: task.into(),
            source: source.into(),
            applied,
        };
        assert_eq!(state.apply(&applied("t", "s1", 1), 9), Response::Done);
        let left: Vec<u64> = state
            .schema_ops_of("t", "s1")
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(left, [2]);
        // A stale or repeated report changes nothing; another source's id
        // does not touch this one's operations.
        assert_eq!(state.apply(&applied("t", "s1", 1), 9), Response::Done);
        assert_eq!(state.apply(&applied("t", "s2", 2), 9), Response::Done);
        assert_eq!(state.schema_ops_of("t", "s2").len(), 1);
        assert_eq!(state.apply(&applied("t", "s1", 2), 9), Response::Done);
        assert!(state.schema_ops_of("t", "s1").is_empty());
        assert_eq!(state.apply(&applied("gone", "s1", 5), 9), Response::Done);
        // Ids keep growing after operations are dropped.
        assert_eq!(
            add(&mut state, "t", vec![op("s1", "c", None)]),
            Response::SchemaOps { ids: vec![4] }
        );
    }

    #[test]
    fn stopping_a_source_or_the_task_drops_its_operations() {
        let mut state = state();
        add(
            &mut state,
            "t",
            vec![op("s1", "a", None), op("s2", "a", None)],
        );
        state.apply(
            &Command::StopTask {
                name: "t".into(),
                sources: vec!["s1".into()],
            },
            9,
        );
        assert!(state.schema_ops_of("t", "s1").is_empty());
        assert_eq!(state.schema_ops_of("t", "s2").len(), 1);
        state.apply(
            &Command::StopTask {
                name: "t".into(),
                sources: vec![],
            },
            9,
        );
        assert!(state.schema_ops.is_empty());
        assert_eq!(state.next_schema_op, 3);
    }
}
