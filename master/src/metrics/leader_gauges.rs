//! The leader-only families' values, computed from the applied state and
//! the workers the leader judges alive. Pure.

use std::collections::{BTreeMap, BTreeSet};

use dm_proto::pb::Stage;

use crate::state::{ClusterState, TaskStage};

/// `dm_master_ddl_state_number{type}`: a lock still waiting for some of
/// its sources (DM's `DDLPendingUnSynced`).
pub const DDL_UNSYNCED: &str = "Un-synced";
/// `dm_master_ddl_state_number{type}`: every source arrived, the DDL is
/// being executed downstream (DM's `DDLPendingSynced`).
pub const DDL_SYNCED: &str = "Synced";

/// DM's `dm_master_worker_state` values (dm/master/scheduler/worker.go
/// `workerStage2Num`).
const WORKER_OFFLINE: f64 = 0.0;
const WORKER_FREE: f64 = 1.0;
const WORKER_BOUND: f64 = 2.0;

/// What the leader exports about the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaderGauges {
    /// Registered worker -> 0 offline (not alive), 1 free, 2 bound.
    pub worker_state: BTreeMap<String, f64>,
    /// (task, source-id) -> DM stage number of the expected stage.
    pub task_state: BTreeMap<(String, String), i64>,
    pub bindings: i64,
    /// Bound source-id -> epoch of its binding.
    pub binding_epoch: BTreeMap<String, i64>,
    /// (task, Un-synced | Synced) -> locks; both types for every task
    /// with a lock, none for a task without.
    pub ddl_state_number: BTreeMap<(String, &'static str), i64>,
    pub locks_pending: i64,
    /// Since the oldest lock's creation (leader clocks), 0 without locks.
    pub oldest_lock_age_seconds: f64,
}

/// DM's stage number of an expected subtask stage.
pub fn stage_number(stage: TaskStage) -> i64 {
    i64::from(match stage {
        TaskStage::Running => Stage::Running as i32,
        TaskStage::Paused => Stage::Paused as i32,
    })
}

/// The leader's families for `state`, with `alive` the workers it judges
/// alive and `now_ms` its wall clock (Unix milliseconds).
pub fn leader_gauges(state: &ClusterState, alive: &BTreeSet<String>, now_ms: u64) -> LeaderGauges {
    let bound: BTreeSet<&String> = state.bindings.values().map(|b| &b.worker).collect();
    let worker_state = state
        .workers
        .keys()
        .map(|w| {
            let value = if !alive.contains(w) {
                WORKER_OFFLINE
            } else if bound.contains(w) {
                WORKER_BOUND
            } else {
                WORKER_FREE
            };
            (w.clone(), value)
        })
        .collect();
    let task_state = state
        .tasks
        .iter()
        .flat_map(|(task, entry)| {
            entry
                .stages
                .iter()
                .map(|(source, stage)| ((task.clone(), source.clone()), stage_number(*stage)))
        })
        .collect();
    let binding_epoch = state
        .bindings
        .iter()
        .map(|(source, b)| (source.clone(), i64::try_from(b.epoch).unwrap_or(i64::MAX)))
        .collect();
    let mut ddl_state_number = BTreeMap::new();
    for lock in state.shard_ddl_locks.values() {
        for kind in [DDL_UNSYNCED, DDL_SYNCED] {
            ddl_state_number
                .entry((lock.task.clone(), kind))
                .or_insert(0);
        }
        let kind = if lock.all_arrived() {
            DDL_SYNCED
        } else {
            DDL_UNSYNCED
        };
        *ddl_state_number
            .entry((lock.task.clone(), kind))
            .or_insert(0) += 1;
    }
    let oldest_lock_age_seconds = state
        .shard_ddl_locks
        .values()
        .map(|l| l.created_at_ms)
        .min()
        .map_or(0.0, |created| {
            now_ms.saturating_sub(created) as f64 / 1000.0
        });
    LeaderGauges {
        worker_state,
        task_state,
        bindings: i64::try_from(state.bindings.len()).unwrap_or(i64::MAX),
        binding_epoch,
        ddl_state_number,
        locks_pending: i64::try_from(state.shard_ddl_locks.len()).unwrap_or(i64::MAX),
        oldest_lock_age_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Binding, LockMember, ShardDdlLock, TaskEntry, WorkerEntry};

    fn worker(state: &mut ClusterState, name: &str) {
        state.workers.insert(
            name.into(),
            WorkerEntry {
                addr: format!("{name}:8262"),
                registered_at_ms: 0,
                keepalive_ttl_ms: 0,
                config: String::new(),
            },
        );
    }

    fn lock(task: &str, table: &str, arrived: &[bool], created_at_ms: u64) -> ShardDdlLock {
        ShardDdlLock {
            task: task.into(),
            schema: "db".into(),
            table: table.into(),
            ddls: vec!["ALTER TABLE t ADD c INT".into()],
            owner: "s0".into(),
            members: arrived
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    (
                        format!("s{i}"),
                        LockMember {
                            arrived: a.then(Default::default),
                            ..LockMember::default()
                        },
                    )
                })
                .collect(),
            forced: false,
            created_at_ms,
        }
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_cluster_exports_zeros_and_no_series() {
        let gauges = leader_gauges(&ClusterState::default(), &set(&[]), 5_000);
        assert_eq!(gauges, LeaderGauges::default());
    }

    #[test]
    fn workers_are_offline_free_or_bound_as_dm_numbers_them() {
        let mut state = ClusterState::default();
        for w in ["w-bound", "w-free", "w-dead", "w-dead-bound"] {
            worker(&mut state, w);
        }
        for (source, w, epoch) in [("s1", "w-bound", 4), ("s2", "w-dead-bound", 7)] {
            state.bindings.insert(
                source.into(),
                Binding {
                    worker: w.into(),
                    epoch,
                    bound_at_ms: 0,
                },
            );
        }
        let gauges = leader_gauges(&state, &set(&["w-bound", "w-free", "ghost"]), 0);
        let expected: BTreeMap<String, f64> = [
            ("w-bound", 2.0),
            ("w-dead", 0.0),
            ("w-dead-bound", 0.0),
            ("w-free", 1.0),
        ]
        .into_iter()
        .map(|(w, v)| (w.to_string(), v))
        .collect();
        assert_eq!(gauges.worker_state, expected);
        assert_eq!(gauges.bindings, 2);
        assert_eq!(
            gauges.binding_epoch,
            BTreeMap::from([("s1".to_string(), 4), ("s2".to_string(), 7)])
        );
    }

    #[test]
    fn subtasks_show_dm_stage_numbers() {
        let mut state = ClusterState::default();
        state.tasks.insert(
            "t".into(),
            TaskEntry {
                config_yaml: String::new(),
                stages: BTreeMap::from([
                    ("s1".to_string(), TaskStage::Running),
                    ("s2".to_string(), TaskStage::Paused),
                ]),
                created_at_ms: 0,
                resumes: BTreeMap::new(),
                start_time: String::new(),
            },
        );
        let gauges = leader_gauges(&state, &set(&[]), 0);
        assert_eq!(
            gauges.task_state,
            BTreeMap::from([
                (("t".to_string(), "s1".to_string()), 2),
                (("t".to_string(), "s2".to_string()), 3),
            ])
        );
    }

    #[test]
    fn locks_are_counted_by_task_and_state_with_the_oldest_age() {
        let mut state = ClusterState::default();
        for (id, l) in [
            ("a", lock("t1", "a", &[true, false], 10_000)),
            ("b", lock("t1", "b", &[true, true], 4_000)),
            ("c", lock("t1", "c", &[false, false], 12_000)),
            ("d", lock("t2", "d", &[true, true], 20_000)),
        ] {
            state.shard_ddl_locks.insert(id.into(), l);
        }
        let gauges = leader_gauges(&state, &set(&[]), 24_500);
        assert_eq!(
            gauges.ddl_state_number,
            BTreeMap::from([
                (("t1".to_string(), DDL_UNSYNCED), 2),
                (("t1".to_string(), DDL_SYNCED), 1),
                (("t2".to_string(), DDL_UNSYNCED), 0),
                (("t2".to_string(), DDL_SYNCED), 1),
            ])
        );
        assert_eq!(gauges.locks_pending, 4);
        assert_eq!(gauges.oldest_lock_age_seconds, 20.5);
    }

    #[test]
    fn a_forced_lock_counts_as_synced() {
        let mut state = ClusterState::default();
        let mut forced = lock("t", "a", &[true, false], 0);
        forced.forced = true;
        state.shard_ddl_locks.insert("a".into(), forced);
        let gauges = leader_gauges(&state, &set(&[]), 0);
        assert_eq!(gauges.ddl_state_number[&("t".to_string(), DDL_SYNCED)], 1);
    }
}
