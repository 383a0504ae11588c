//! The leader keeps the subtasks' checkpoints in Raft.
//!
//! Workers report each subtask's committed binlog position in every
//! heartbeat (the position itself is authoritative downstream, in
//! `dm_meta`); every [`INTERVAL`] the leader writes the positions that moved
//! since the last write as one `ReportCheckpoints` command, so they survive
//! any master failure and every master can show them. Only reports from the
//! worker the source is bound to, for the task's current generation, count.

use std::sync::Arc;
use std::time::Duration;

use dm_proto::pb;
use openraft::ServerState;
use tokio::sync::watch;

use crate::node::Node;
use crate::state::{CheckpointReport, ClusterState, Command};

/// How often the leader persists moved checkpoints (DM's
/// `checkpoint-flush-interval` default is 30 s).
pub const INTERVAL: Duration = Duration::from_secs(5);

/// The checkpoints in `reports` that differ from what `state` holds (pure).
pub fn moved(
    state: &ClusterState,
    reports: &[(String, Vec<pb::SourceReport>)],
) -> Vec<CheckpointReport> {
    let mut out = Vec::new();
    for (worker, sources) in reports {
        for source in sources.iter().filter(|s| !s.fenced) {
            let bound = state
                .bindings
                .get(&source.source)
                .is_some_and(|b| &b.worker == worker && b.epoch == source.epoch);
            if !bound {
                continue;
            }
            for subtask in &source.subtasks {
                let Some(task) = state.tasks.get(&subtask.task) else {
                    continue;
                };
                if task.created_at_ms != subtask.generation {
                    continue;
                }
                let Some(cp) = subtask
                    .checkpoint
                    .as_ref()
                    .filter(|c| !c.binlog_name.is_empty())
                else {
                    continue;
                };
                let stored = state
                    .checkpoints
                    .get(&subtask.task)
                    .and_then(|m| m.get(&source.source));
                let same = stored.is_some_and(|s| {
                    s.binlog_name == cp.binlog_name
                        && s.binlog_pos == cp.binlog_pos
                        && s.binlog_gtid == cp.binlog_gtid
                });
                if !same {
                    out.push(CheckpointReport {
                        task: subtask.task.clone(),
                        source: source.source.clone(),
                        binlog_name: cp.binlog_name.clone(),
                        binlog_pos: cp.binlog_pos,
                        binlog_gtid: cp.binlog_gtid.clone(),
                    });
                }
            }
        }
    }
    out
}

/// Runs until `stopped` turns true.
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        if node.raft.metrics().borrow().state != ServerState::Leader {
            continue;
        }
        let reports = moved(&node.state().state, &node.liveness.reports());
        if reports.is_empty() {
            continue;
        }
        let count = reports.len();
        match node.write(Command::ReportCheckpoints { reports }).await {
            Ok(_) => tracing::debug!(count, "checkpoints persisted"),
            Err(e) => tracing::debug!(error = %e, "checkpoints not persisted this time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Binding, TaskEntry, TaskStage};
    use std::collections::BTreeMap;

    fn report(worker_epoch: u64, generation: u64, pos: u32) -> pb::SourceReport {
        pb::SourceReport {
            source: "s1".into(),
            epoch: worker_epoch,
            fenced: false,
            subtasks: vec![pb::SubtaskReport {
                task: "t".into(),
                generation,
                checkpoint: Some(pb::Checkpoint {
                    binlog_name: "bin.000001".into(),
                    binlog_pos: pos,
                    binlog_gtid: String::new(),
                }),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn only_the_bound_workers_current_reports_that_moved_are_written() {
        let mut state = ClusterState::default();
        state.bindings.insert(
            "s1".into(),
            Binding {
                worker: "w1".into(),
                epoch: 3,
                bound_at_ms: 0,
            },
        );
        state.tasks.insert(
            "t".into(),
            TaskEntry {
                config_yaml: String::new(),
                stages: BTreeMap::from([("s1".to_string(), TaskStage::Running)]),
                created_at_ms: 77,
                resumes: BTreeMap::new(),
                start_time: String::new(),
            },
        );
        let reports = vec![
            ("w1".to_string(), vec![report(3, 77, 400)]),
            // An old binding, and a previous start of the task: ignored.
            ("w2".to_string(), vec![report(2, 77, 900)]),
            ("w1".to_string(), vec![report(3, 12, 900)]),
        ];
        let moved_now = moved(&state, &reports);
        assert_eq!(moved_now.len(), 1);
        assert_eq!(moved_now[0].binlog_pos, 400);
        state.apply(&Command::ReportCheckpoints { reports: moved_now }, 1);
        assert!(moved(&state, &reports).is_empty(), "nothing moved since");
    }
}
