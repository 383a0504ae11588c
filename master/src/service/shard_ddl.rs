//! Shard-DDL locks at the service edge: workers' heartbeat reports become
//! lock commands, locks become the operations handed back to workers, and
//! dmctl's `show-ddl-locks` / `unlock-ddl-lock`.
//!
//! Reports are level-triggered: a worker waiting at a DDL says so in every
//! heartbeat, and says `done` (with the DDL's position) after it executed or
//! skipped it until the lock no longer asks anything of it. The leader only
//! proposes a command when a report says something the state does not know
//! yet, and only for a source the reporting worker is bound to under the
//! reported epoch and a task of the reported generation, so a stale worker's
//! report never moves a lock.

use std::time::Duration;

use tokio::time::Instant;

use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{Arrival, ClusterState, Command, DdlPosition, LockOp, Response as Applied};

fn position_of(checkpoint: Option<&pb::Checkpoint>) -> DdlPosition {
    checkpoint
        .map(|c| DdlPosition {
            binlog_name: c.binlog_name.clone(),
            binlog_pos: c.binlog_pos,
        })
        .unwrap_or_default()
}

/// The commands a worker's heartbeat calls for (pure).
pub fn commands_for_reports(
    state: &ClusterState,
    worker: &str,
    sources: &[pb::SourceReport],
) -> Vec<Command> {
    let mut out = Vec::new();
    for (source, sub) in super::reports::current(state, worker, sources) {
        let Some(info) = &sub.shard_ddl else {
            continue;
        };
        let at = position_of(info.position.as_ref());
        let lock_id = if info.lock_id.is_empty() {
            crate::state::lock_id(&sub.task, &info.downstream_schema, &info.downstream_table)
        } else {
            info.lock_id.clone()
        };
        if info.done {
            let asked = state
                .shard_ddl_op(&sub.task, source)
                .is_some_and(|(id, _, op, p)| {
                    id == lock_id && p == at && matches!(op, LockOp::Execute | LockOp::Skip)
                });
            if asked {
                out.push(Command::ShardDdlDone {
                    lock: lock_id,
                    source: source.to_string(),
                    at,
                });
            }
            continue;
        }
        let known = match state.shard_ddl_locks.get(&lock_id) {
            None => false,
            Some(lock) => match lock.members.get(source) {
                // Dropped by `unlock-ddl-lock`: not asked again.
                None => lock.forced,
                Some(m) => {
                    let same_ddls = if lock.ddls == info.ddls {
                        m.conflict.is_empty()
                    } else {
                        m.conflict == info.ddls
                    };
                    m.done || (m.arrived.as_ref() == Some(&at) && same_ddls)
                }
            },
        };
        if !known {
            out.push(Command::ShardDdlArrive(Arrival {
                task: sub.task.clone(),
                source: source.to_string(),
                schema: info.downstream_schema.clone(),
                table: info.downstream_table.clone(),
                ddls: info.ddls.clone(),
                at,
            }));
        }
    }
    out
}

/// The operation for `source` of `task` in a heartbeat answer.
pub fn operation_for(
    state: &ClusterState,
    task: &str,
    source: &str,
) -> Option<pb::ShardDdlOperation> {
    let (lock_id, lock, op, at) = state.shard_ddl_op(task, source)?;
    let position = Some(pb::Checkpoint {
        binlog_name: at.binlog_name,
        binlog_pos: at.binlog_pos,
        binlog_gtid: String::new(),
    });
    let (execute, error) = match op {
        LockOp::Execute => (true, String::new()),
        LockOp::Skip => (false, String::new()),
        LockOp::Conflict(e) => (false, e),
    };
    Some(pb::ShardDdlOperation {
        lock_id,
        ddls: lock.ddls.clone(),
        execute,
        position,
        error,
    })
}

/// Proposes what `sources` (one worker's heartbeat) call for.
pub async fn apply_reports(node: &Node, worker: &str, sources: &[pb::SourceReport]) {
    let commands = commands_for_reports(&node.state().state, worker, sources);
    for command in commands {
        match node.write(command.clone()).await {
            Ok(Applied::Rejected(why)) => {
                tracing::debug!(%worker, ?command, %why, "shard DDL report not applied")
            }
            Ok(_) => tracing::info!(%worker, ?command, "shard DDL lock updated"),
            Err(e) => tracing::warn!(%worker, error = %e, "shard DDL report not applied"),
        }
    }
}

/// `show-ddl-locks [-s source ...] [task]`.
pub async fn show(
    node: &Node,
    req: pb::ShowDdlLocksRequest,
) -> Result<pb::ShowDdlLocksResponse, MasterError> {
    let applied = node.read().await?;
    let locks: Vec<pb::DdlLock> = applied
        .state
        .shard_ddl_locks
        .iter()
        .filter(|(_, l)| req.task.is_empty() || l.task == req.task)
        .filter(|(_, l)| {
            req.sources.is_empty() || req.sources.iter().any(|s| l.members.contains_key(s))
        })
        .map(|(id, l)| {
            let (synced, unsynced) = l.synced_unsynced();
            pb::DdlLock {
                id: id.clone(),
                task: l.task.clone(),
                mode: "pessimistic".into(),
                owner: l.owner.clone(),
                dd_ls: l.ddls.clone(),
                synced,
                unsynced,
            }
        })
        .collect();
    Ok(pb::ShowDdlLocksResponse {
        result: true,
        msg: if locks.is_empty() {
            "no DDL lock exists".into()
        } else {
            String::new()
        },
        locks,
    })
}

/// How long `unlock-ddl-lock` waits for the lock to be resolved.
const UNLOCK_WAIT: Duration = Duration::from_secs(10);

/// `unlock-ddl-lock [--owner SOURCE] [--force-remove] LOCK_ID`: the lock
/// stops waiting for missing sources; the answer comes when the owner and
/// the others have executed / skipped (or after a while, saying who has
/// not yet). `--force-remove` deletes the lock without any DDL run.
pub async fn unlock(
    node: &Node,
    req: pb::UnlockDdlLockRequest,
) -> Result<pb::UnlockDdlLockResponse, MasterError> {
    let command = Command::UnlockDdlLock {
        lock: req.id.clone(),
        owner: req.replace_owner.clone(),
        force_remove: req.force_remove,
    };
    if let Applied::Rejected(why) = node.write(command).await? {
        return Ok(pb::UnlockDdlLockResponse {
            result: false,
            msg: why.to_string(),
        });
    }
    let deadline = Instant::now() + UNLOCK_WAIT;
    let mut changes = node.changes();
    loop {
        let state = node.state();
        let Some(lock) = state.state.shard_ddl_locks.get(&req.id) else {
            return Ok(pb::UnlockDdlLockResponse {
                result: true,
                msg: String::new(),
            });
        };
        if Instant::now() >= deadline {
            let waiting: Vec<&String> = lock
                .members
                .iter()
                .filter(|(_, m)| !m.done)
                .map(|(s, _)| s)
                .collect();
            return Ok(pb::UnlockDdlLockResponse {
                result: false,
                msg: format!(
                    "lock {} is unlocked but not resolved yet: waiting for {waiting:?} (owner {}) to execute or skip the DDL; it completes when their workers run, or remove it with --force-remove",
                    req.id, lock.owner
                ),
            });
        }
        let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TaskStage;
    use dm_proto::config::SourceConfig;

    const ADD: &str = "ALTER TABLE `db`.`tb` ADD COLUMN c INT";

    /// Sources s1, s2 in task t (generation 2), bound to w1, w2 (epochs 1, 2).
    fn state() -> ClusterState {
        let mut state = ClusterState::default();
        for (source, worker) in [("s1", "w1"), ("s2", "w2")] {
            let text = format!("source-id: {source}\nfrom:\n  host: 127.0.0.1\n  user: root\n");
            let config = SourceConfig::parse("s.yaml", &text).expect("valid source");
            for command in [
                Command::CreateSource {
                    config: Box::new(config),
                },
                Command::RegisterWorker {
                    name: worker.into(),
                    addr: format!("{worker}:1"),
                    keepalive_ttl_ms: 0,
                    config: String::new(),
                },
                Command::Bind {
                    source: source.into(),
                    worker: worker.into(),
                },
            ] {
                state.apply(&command, 1);
            }
        }
        state.apply(
            &Command::StartTask {
                name: "t".into(),
                config_yaml: "name: t".into(),
                sources: vec!["s1".into(), "s2".into()],
                stage: TaskStage::Running,
                start_time: String::new(),
            },
            2,
        );
        state
    }

    fn report(source: &str, epoch: u64, generation: u64, pos: u32, done: bool) -> pb::SourceReport {
        pb::SourceReport {
            source: source.into(),
            epoch,
            subtasks: vec![pb::SubtaskReport {
                task: "t".into(),
                generation,
                shard_ddl: Some(pb::ShardDdlInfo {
                    downstream_schema: "db".into(),
                    downstream_table: "tb".into(),
                    ddls: vec![ADD.into()],
                    position: Some(pb::Checkpoint {
                        binlog_name: "bin.000001".into(),
                        binlog_pos: pos,
                        binlog_gtid: String::new(),
                    }),
                    done,
                    lock_id: String::new(),
                }),
                ..Default::default()
            }],
            fenced: false,
        }
    }

    fn apply_all(state: &mut ClusterState, commands: Vec<Command>) {
        for c in commands {
            assert_eq!(state.apply(&c, 3), Applied::Done, "{c:?}");
        }
    }

    #[test]
    fn only_a_bound_current_worker_moves_a_lock_and_only_with_news() {
        let mut state = state();
        // Wrong worker, stale epoch, old generation: nothing.
        assert!(commands_for_reports(&state, "w2", &[report("s1", 1, 2, 100, false)]).is_empty());
        assert!(commands_for_reports(&state, "w1", &[report("s1", 9, 2, 100, false)]).is_empty());
        assert!(commands_for_reports(&state, "w1", &[report("s1", 1, 7, 100, false)]).is_empty());
        let arrive = commands_for_reports(&state, "w1", &[report("s1", 1, 2, 100, false)]);
        assert_eq!(arrive.len(), 1);
        apply_all(&mut state, arrive);
        // The same report again is no news.
        assert!(commands_for_reports(&state, "w1", &[report("s1", 1, 2, 100, false)]).is_empty());
        // A done before being asked is no news either.
        assert!(commands_for_reports(&state, "w1", &[report("s1", 1, 2, 100, true)]).is_empty());
        let news = commands_for_reports(&state, "w2", &[report("s2", 2, 2, 50, false)]);
        apply_all(&mut state, news);
        let op = operation_for(&state, "t", "s1").expect("the owner executes");
        assert!(op.execute && op.error.is_empty());
        assert_eq!(op.lock_id, "t-`db`.`tb`");
        assert_eq!(op.position.map(|p| p.binlog_pos), Some(100));
        assert_eq!(operation_for(&state, "t", "s2"), None);
        let news = commands_for_reports(&state, "w1", &[report("s1", 1, 2, 100, true)]);
        apply_all(&mut state, news);
        let op = operation_for(&state, "t", "s2").expect("the other skips");
        assert!(!op.execute);
        let news = commands_for_reports(&state, "w2", &[report("s2", 2, 2, 50, true)]);
        apply_all(&mut state, news);
        assert!(state.shard_ddl_locks.is_empty());
        // A late report of the finished DDL does not recreate the lock...
        assert!(commands_for_reports(&state, "w2", &[report("s2", 2, 2, 50, true)]).is_empty());
    }
}
