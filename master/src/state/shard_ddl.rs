//! Pessimistic shard-DDL locks: the replicated half of the protocol. Pure.
//!
//! When upstream shards merge into one downstream table, a DDL on that
//! table must run downstream once, after every shard reached it, and no
//! shard's rows may cross the schema change in the wrong order. Each
//! source's worker stops its binlog at such a DDL and reports it (level
//! triggered, in every heartbeat while it waits); the leader turns reports
//! into commands and answers with what each source should do:
//!
//! 1. `ShardDdlArrive`: the first source to arrive creates the lock
//!    `<task>-`schema`.`table`` with its DDLs and becomes the owner; the lock
//!    waits for every source of the task. A source arriving with other DDLs
//!    is marked in conflict (its worker pauses, showing both).
//! 2. Once every member arrived (or an operator forced the lock), the owner
//!    is told to *execute*; the others wait.
//! 3. `ShardDdlDone` from the owner: every other arrived member is told to
//!    *skip* (move its checkpoint past the DDL without running it).
//! 4. When every member is done the lock is gone.
//!
//! Because the lock is Raft state, a new leader answers exactly as the old
//! one would have: nothing is rebuilt from guesses. A member that is done
//! ignores further arrivals at that lock (a re-report, or the same table's
//! next DDL, which waits until this lock is gone). A member only counts as
//! done for the position it arrived at, so a late report about an earlier
//! DDL cannot finish a later one.
//!
//! ## Successive DDLs
//!
//! Locks on one table share their id (DM's `<task>-`schema`.`table``);
//! successive ones are told apart by the position each source reached them
//! at. A worker reports one DDL at a time, so a source that executed or
//! skipped a DDL and quickly reached its next one may never have reported
//! the first as done: its report now names the later position. A source
//! passes a DDL only after it was told to execute or skip it there, so an
//! arrival at a later position than a DDL the source was told to execute
//! or skip is proof that it did: that lock counts it done first (whichever
//! table it is about), and the new arrival then joins, or opens, the next
//! lock. The inference is part of `apply`, so every master draws it the
//! same way; no report is needed that a worker might overwrite.
//!
//! `unlock-ddl-lock` forces a lock whose members will not all arrive: the
//! missing members are dropped, the owner (or the one the operator names)
//! executes, the others skip. `--force-remove` deletes the lock outright.
//! Stopping a task (or some of its sources) removes its locks (or those
//! members); a removed owner passes ownership to the next arrived member.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClusterState, Rejection};

/// A position in a source's binlog (where its DDL is).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DdlPosition {
    pub binlog_name: String,
    pub binlog_pos: u32,
}

/// One source's part in a lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockMember {
    /// Where the source reached the DDL; `None` until it does.
    #[serde(default)]
    pub arrived: Option<DdlPosition>,
    /// It executed (owner) or skipped (others) the DDL.
    #[serde(default)]
    pub done: bool,
    /// DDLs it arrived with that differ from the lock's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflict: Vec<String>,
}

/// A pessimistic shard-DDL lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardDdlLock {
    pub task: String,
    /// The downstream table the shards merge into.
    pub schema: String,
    pub table: String,
    /// The DDL statements (routed to the downstream table).
    pub ddls: Vec<String>,
    /// The source that executes the DDL downstream.
    pub owner: String,
    /// Every source that must reach the DDL.
    pub members: BTreeMap<String, LockMember>,
    /// Set by `unlock-ddl-lock`: no longer waits for missing members.
    #[serde(default)]
    pub forced: bool,
    pub created_at_ms: u64,
}

/// What one source should do about a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOp {
    /// Run the DDL downstream, then report done.
    Execute,
    /// The owner ran it: move past it, then report done.
    Skip,
    /// The source's DDLs differ from the lock's: pause with this error.
    Conflict(String),
}

pub use dm_proto::shard_ddl_lock_id as lock_id;

impl ShardDdlLock {
    /// Every member that must arrive did.
    pub fn all_arrived(&self) -> bool {
        self.members
            .values()
            .all(|m| (self.forced || m.arrived.is_some()) && m.conflict.is_empty())
    }

    fn owner_done(&self) -> bool {
        self.members.get(&self.owner).is_some_and(|m| m.done)
    }

    /// Sources that arrived (DM's "synced") and those still awaited.
    pub fn synced_unsynced(&self) -> (Vec<String>, Vec<String>) {
        let (synced, unsynced): (Vec<_>, Vec<_>) = self
            .members
            .iter()
            .partition(|(_, m)| m.arrived.is_some() && m.conflict.is_empty());
        (
            synced.into_iter().map(|(s, _)| s.clone()).collect(),
            unsynced.into_iter().map(|(s, _)| s.clone()).collect(),
        )
    }

    /// What `source` should do now, and at which DDL position.
    pub fn op_for(&self, source: &str) -> Option<(LockOp, DdlPosition)> {
        let member = self.members.get(source)?;
        let at = member.arrived.clone()?;
        if !member.conflict.is_empty() {
            return Some((
                LockOp::Conflict(format!(
                    "shard DDLs of lock {} differ: the lock has {:?} (from {}), source {source} has {:?}",
                    lock_id(&self.task, &self.schema, &self.table),
                    self.ddls,
                    self.owner,
                    member.conflict
                )),
                at,
            ));
        }
        if member.done || !self.all_arrived() {
            return None;
        }
        if source == self.owner {
            Some((LockOp::Execute, at))
        } else if self.owner_done() {
            Some((LockOp::Skip, at))
        } else {
            None
        }
    }

    fn finished(&self) -> bool {
        self.owner_done() && self.members.values().all(|m| m.done)
    }

    /// Drops `source`; an owner that had not executed passes the role on.
    fn remove_member(&mut self, source: &str) {
        self.members.remove(source);
        if self.owner == source {
            if let Some(next) = self
                .members
                .iter()
                .find(|(_, m)| m.arrived.is_some() && m.conflict.is_empty())
                .map(|(s, _)| s.clone())
            {
                self.owner = next;
            }
        }
    }
}

/// A source reached a shard DDL (the `ShardDdlArrive` command's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub task: String,
    pub source: String,
    pub schema: String,
    pub table: String,
    pub ddls: Vec<String>,
    pub at: DdlPosition,
}

impl ClusterState {
    pub(super) fn shard_ddl_arrive(&mut self, a: &Arrival, now_ms: u64) -> Result<(), Rejection> {
        let task = self
            .tasks
            .get(&a.task)
            .ok_or_else(|| Rejection::TaskNotFound(a.task.clone()))?;
        if !task.stages.contains_key(&a.source) {
            return Err(Rejection::SourceNotInTask {
                task: a.task.clone(),
                source_id: a.source.clone(),
            });
        }
        let sources: Vec<String> = task.stages.keys().cloned().collect();
        self.shard_ddl_passed(&a.task, &a.source, &a.at);
        let id = lock_id(&a.task, &a.schema, &a.table);
        let lock = self
            .shard_ddl_locks
            .entry(id)
            .or_insert_with(|| ShardDdlLock {
                task: a.task.clone(),
                schema: a.schema.clone(),
                table: a.table.clone(),
                ddls: a.ddls.clone(),
                owner: a.source.clone(),
                members: sources
                    .into_iter()
                    .map(|s| (s, LockMember::default()))
                    .collect(),
                forced: false,
                created_at_ms: now_ms,
            });
        if lock.forced && !lock.members.contains_key(&a.source) {
            // Dropped by `unlock-ddl-lock`: it comes back for the next lock.
            return Ok(());
        }
        let member = lock.members.entry(a.source.clone()).or_default();
        if member.done {
            return Ok(());
        }
        member.arrived = Some(a.at.clone());
        member.conflict = if a.ddls == lock.ddls {
            Vec::new()
        } else {
            a.ddls.clone()
        };
        Ok(())
    }

    /// `source` of `task` reached a DDL at `at`: every lock that told it to
    /// execute or skip a DDL before `at` counts it done (see the module
    /// docs, "Successive DDLs").
    fn shard_ddl_passed(&mut self, task: &str, source: &str, at: &DdlPosition) {
        let passed: Vec<(String, DdlPosition)> = self
            .shard_ddl_locks
            .iter()
            .filter(|(_, l)| l.task == task)
            .filter_map(|(id, l)| match l.op_for(source) {
                Some((LockOp::Execute | LockOp::Skip, p)) if p < *at => Some((id.clone(), p)),
                _ => None,
            })
            .collect();
        for (id, p) in passed {
            // The lock exists and asks exactly this: cannot be rejected.
            let _ = self.shard_ddl_done(&id, source, &p);
        }
    }

    pub(super) fn shard_ddl_done(
        &mut self,
        lock: &str,
        source: &str,
        at: &DdlPosition,
    ) -> Result<(), Rejection> {
        let entry = self
            .shard_ddl_locks
            .get_mut(lock)
            .ok_or_else(|| Rejection::LockNotFound(lock.to_string()))?;
        // Only the op the source was given counts as done.
        if !matches!(entry.op_for(source), Some((LockOp::Execute | LockOp::Skip, ref p)) if p == at)
        {
            return Ok(());
        }
        if let Some(member) = entry.members.get_mut(source) {
            member.done = true;
        }
        if entry.finished() {
            self.shard_ddl_locks.remove(lock);
        }
        Ok(())
    }

    pub(super) fn unlock_ddl_lock(
        &mut self,
        lock: &str,
        owner: &str,
        force_remove: bool,
    ) -> Result<(), Rejection> {
        let entry = self
            .shard_ddl_locks
            .get_mut(lock)
            .ok_or_else(|| Rejection::LockNotFound(lock.to_string()))?;
        if force_remove {
            self.shard_ddl_locks.remove(lock);
            return Ok(());
        }
        if !owner.is_empty() && owner != entry.owner {
            let arrived = entry
                .members
                .get(owner)
                .is_some_and(|m| m.arrived.is_some() && m.conflict.is_empty());
            if !arrived || entry.owner_done() {
                return Err(Rejection::OwnerNotWaiting {
                    lock: lock.to_string(),
                    owner: owner.to_string(),
                });
            }
            entry.owner = owner.to_string();
        }
        entry.forced = true;
        entry
            .members
            .retain(|_, m| m.arrived.is_some() && m.conflict.is_empty());
        if entry.members.is_empty() || entry.finished() {
            self.shard_ddl_locks.remove(lock);
        }
        Ok(())
    }

    /// `sources` of `task` left it (all of them: the task stopped).
    pub(super) fn shard_ddl_sources_left(&mut self, task: &str, sources: &[String]) {
        self.shard_ddl_locks.retain(|_, lock| {
            if lock.task != task {
                return true;
            }
            for source in sources {
                lock.remove_member(source);
            }
            !lock.members.is_empty() && !lock.finished()
        });
    }

    /// The lock `source` of `task` is part of, with what it should do.
    pub fn shard_ddl_op(
        &self,
        task: &str,
        source: &str,
    ) -> Option<(String, &ShardDdlLock, LockOp, DdlPosition)> {
        self.shard_ddl_locks
            .iter()
            .filter(|(_, l)| l.task == task)
            .find_map(|(id, l)| l.op_for(source).map(|(op, at)| (id.clone(), l, op, at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Command, Response, TaskStage};
    use dm_proto::config::SourceConfig;

    const ID: &str = "t-`db`.`tb`";

    fn cluster(sources: &[&str]) -> ClusterState {
        let mut state = ClusterState::default();
        for id in sources {
            let text = format!("source-id: {id}\nfrom:\n  host: 127.0.0.1\n  user: root\n");
            let config = SourceConfig::parse("s.yaml", &text).expect("valid source");
            state.apply(
                &Command::CreateSource {
                    config: Box::new(config),
                },
                1,
            );
        }
        let start = Command::StartTask {
            name: "t".into(),
            config_yaml: "name: t".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            stage: TaskStage::Running,
            start_time: String::new(),
        };
        assert_eq!(state.apply(&start, 2), Response::Done);
        state
    }

    fn at(pos: u32) -> DdlPosition {
        DdlPosition {
            binlog_name: "bin.000001".into(),
            binlog_pos: pos,
        }
    }

    fn arrive(source: &str, ddl: &str, pos: u32) -> Command {
        Command::ShardDdlArrive(Arrival {
            task: "t".into(),
            source: source.into(),
            schema: "db".into(),
            table: "tb".into(),
            ddls: vec![ddl.into()],
            at: at(pos),
        })
    }

    fn done(source: &str, pos: u32) -> Command {
        Command::ShardDdlDone {
            lock: ID.into(),
            source: source.into(),
            at: at(pos),
        }
    }

    fn unlock(owner: &str, force_remove: bool) -> Command {
        Command::UnlockDdlLock {
            lock: ID.into(),
            owner: owner.into(),
            force_remove,
        }
    }

    /// What each source is told, in source order ("-" for nothing).
    fn ops(state: &ClusterState, sources: &[&str]) -> String {
        sources
            .iter()
            .map(|s| match state.shard_ddl_op("t", s) {
                None => "-".to_string(),
                Some((_, _, LockOp::Execute, _)) => "exec".to_string(),
                Some((_, _, LockOp::Skip, _)) => "skip".to_string(),
                Some((_, _, LockOp::Conflict(_), _)) => "conflict".to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    const ADD: &str = "ALTER TABLE `db`.`tb` ADD COLUMN c INT";
    const S: &[&str] = &["s1", "s2", "s3"];

    /// Each step: a command, its expected result, then what every source
    /// is told and whether the lock still exists.
    fn script(state: &mut ClusterState, steps: &[(Command, Response, &str, bool)]) {
        for (n, (command, response, told, exists)) in steps.iter().enumerate() {
            assert_eq!(&state.apply(command, 10 + n as u64), response, "step {n}");
            assert_eq!(ops(state, S), *told, "step {n}: {command:?}");
            assert_eq!(
                state.shard_ddl_locks.contains_key(ID),
                *exists,
                "step {n}: lock exists"
            );
        }
    }

    #[test]
    fn all_arrive_then_the_owner_executes_and_the_others_skip() {
        let mut state = cluster(S);
        script(
            &mut state,
            &[
                (arrive("s2", ADD, 100), Response::Done, "- - -", true),
                // A re-report changes nothing.
                (arrive("s2", ADD, 100), Response::Done, "- - -", true),
                (arrive("s1", ADD, 200), Response::Done, "- - -", true),
                // Done before being told anything does not count.
                (done("s2", 100), Response::Done, "- - -", true),
                (arrive("s3", ADD, 300), Response::Done, "- exec -", true),
                // A done for another position does not count.
                (done("s2", 999), Response::Done, "- exec -", true),
                (done("s2", 100), Response::Done, "skip - skip", true),
                // The owner is done: its next report is ignored.
                (arrive("s2", ADD, 100), Response::Done, "skip - skip", true),
                (done("s1", 200), Response::Done, "- - skip", true),
                (done("s3", 300), Response::Done, "- - -", false),
                (
                    done("s3", 300),
                    Response::Rejected(Rejection::LockNotFound(ID.into())),
                    "- - -",
                    false,
                ),
            ],
        );
    }

    const INDEX: &str = "ALTER TABLE `db`.`tb` ADD INDEX i (c)";

    #[test]
    fn a_source_at_its_next_ddl_has_done_the_previous_one() {
        let mut state = cluster(&["s1", "s2"]);
        let two: &[&str] = &["s1", "s2"];
        // A command, what each source is told, the lock's (owner, DDL).
        type Step<'a> = (Command, &'a str, Option<(&'a str, &'a str)>);
        let steps: &[Step] = &[
            (arrive("s1", ADD, 100), "- -", Some(("s1", ADD))),
            (arrive("s2", ADD, 500), "exec -", Some(("s1", ADD))),
            // The owner executed and reached the index before its done was
            // reported: done; s2 skips; s1 waits for this lock to go.
            (arrive("s1", INDEX, 200), "- skip", Some(("s1", ADD))),
            (arrive("s1", INDEX, 200), "- skip", Some(("s1", ADD))),
            // s2 skipped and reached the index too: the lock is gone, the
            // next one opens with s2 as its owner.
            (arrive("s2", INDEX, 600), "- -", Some(("s2", INDEX))),
            (arrive("s1", INDEX, 200), "- exec", Some(("s2", INDEX))),
            // A late done of the first lock changes nothing.
            (done("s1", 100), "- exec", Some(("s2", INDEX))),
            (done("s2", 600), "skip -", Some(("s2", INDEX))),
            (done("s1", 200), "- -", None),
        ];
        for (n, (command, told, lock)) in steps.iter().enumerate() {
            assert_eq!(
                state.apply(command, 10 + n as u64),
                Response::Done,
                "step {n}"
            );
            assert_eq!(ops(&state, two), *told, "step {n}: {command:?}");
            let got = state
                .shard_ddl_locks
                .get(ID)
                .map(|l| (l.owner.as_str(), l.ddls.concat()));
            assert_eq!(got, lock.map(|(o, d)| (o, d.to_string())), "step {n}");
        }
    }

    #[test]
    fn a_source_at_another_tables_ddl_has_done_the_previous_lock() {
        let mut state = cluster(&["s1", "s2"]);
        let other = |source: &str, pos: u32| {
            Command::ShardDdlArrive(Arrival {
                task: "t".into(),
                source: source.into(),
                schema: "db".into(),
                table: "other".into(),
                ddls: vec!["ALTER TABLE `db`.`other` ADD COLUMN d INT".into()],
                at: at(pos),
            })
        };
        for command in [arrive("s1", ADD, 100), arrive("s2", ADD, 500)] {
            assert_eq!(state.apply(&command, 1), Response::Done);
        }
        // s1 executed, then reached a DDL of another table.
        assert_eq!(state.apply(&other("s1", 300), 2), Response::Done);
        assert_eq!(ops(&state, &["s1", "s2"]), "- skip");
        assert_eq!(state.apply(&other("s2", 700), 3), Response::Done);
        assert!(!state.shard_ddl_locks.contains_key(ID));
        assert_eq!(ops(&state, &["s1", "s2"]), "exec -");
        // An arrival at an earlier position than the lock's proves nothing.
        let mut state = cluster(&["s1", "s2"]);
        for command in [arrive("s1", ADD, 100), arrive("s2", ADD, 500)] {
            assert_eq!(state.apply(&command, 1), Response::Done);
        }
        assert_eq!(state.apply(&other("s1", 50), 2), Response::Done);
        assert_eq!(ops(&state, &["s1", "s2"]), "exec -");
    }

    #[test]
    fn lock_shows_owner_synced_and_unsynced() {
        let mut state = cluster(S);
        state.apply(&arrive("s3", ADD, 1), 5);
        state.apply(&arrive("s1", ADD, 1), 6);
        let lock = &state.shard_ddl_locks[ID];
        assert_eq!(lock.owner, "s3");
        assert_eq!(lock.ddls, vec![ADD.to_string()]);
        assert_eq!(
            lock.synced_unsynced(),
            (vec!["s1".into(), "s3".into()], vec!["s2".into()])
        );
        assert_eq!(lock.created_at_ms, 5);
    }

    #[test]
    fn different_ddls_put_the_late_source_in_conflict() {
        let mut state = cluster(S);
        script(
            &mut state,
            &[
                (arrive("s1", ADD, 1), Response::Done, "- - -", true),
                (
                    arrive("s2", "ALTER TABLE `db`.`tb` ADD COLUMN d INT", 1),
                    Response::Done,
                    "- conflict -",
                    true,
                ),
                (arrive("s3", ADD, 1), Response::Done, "- conflict -", true),
                // The conflicting source issues the right DDL after all.
                (arrive("s2", ADD, 2), Response::Done, "exec - -", true),
            ],
        );
        match state.shard_ddl_op("t", "s2") {
            None => {}
            other => panic!("s2 waits for the owner: {other:?}"),
        }
    }

    #[test]
    fn unlock_stops_waiting_for_a_source_that_never_arrives() {
        let mut state = cluster(S);
        script(
            &mut state,
            &[
                (arrive("s1", ADD, 1), Response::Done, "- - -", true),
                (arrive("s2", ADD, 2), Response::Done, "- - -", true),
                (
                    unlock("s3", false),
                    Response::Rejected(Rejection::OwnerNotWaiting {
                        lock: ID.into(),
                        owner: "s3".into(),
                    }),
                    "- - -",
                    true,
                ),
                // The operator names s2 as owner.
                (unlock("s2", false), Response::Done, "- exec -", true),
                (done("s2", 2), Response::Done, "skip - -", true),
                // s3 comes late: it is no longer a member.
                (arrive("s3", ADD, 3), Response::Done, "skip - -", true),
                (done("s1", 1), Response::Done, "- - -", false),
            ],
        );
    }

    #[test]
    fn force_remove_deletes_the_lock() {
        let mut state = cluster(S);
        script(
            &mut state,
            &[
                (arrive("s1", ADD, 1), Response::Done, "- - -", true),
                (unlock("", true), Response::Done, "- - -", false),
                (
                    unlock("", true),
                    Response::Rejected(Rejection::LockNotFound(ID.into())),
                    "- - -",
                    false,
                ),
                // Reaching it again starts a new lock.
                (arrive("s1", ADD, 1), Response::Done, "- - -", true),
            ],
        );
    }

    #[test]
    fn removed_sources_leave_and_the_owner_role_moves_on() {
        let mut state = cluster(S);
        let stop = |sources: &[&str]| Command::StopTask {
            name: "t".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        };
        script(
            &mut state,
            &[
                (arrive("s1", ADD, 1), Response::Done, "- - -", true),
                (arrive("s2", ADD, 2), Response::Done, "- - -", true),
                // s3 leaves the task: everyone left has arrived.
                (stop(&["s3"]), Response::Done, "exec - -", true),
                // The owner leaves before executing: s2 takes over.
                (stop(&["s1"]), Response::Done, "- exec -", true),
                (done("s2", 2), Response::Done, "- - -", false),
                // Alone in the task, s2 executes its next DDL at once.
                (arrive("s2", ADD, 5), Response::Done, "- exec -", true),
                (stop(&[]), Response::Done, "- - -", false),
            ],
        );
        assert!(state.tasks.is_empty());
    }

    #[test]
    fn arrivals_need_a_task_with_that_source() {
        let mut state = cluster(&["s1"]);
        let mut stray = Arrival {
            task: "nope".into(),
            source: "s1".into(),
            schema: "db".into(),
            table: "tb".into(),
            ddls: vec![ADD.into()],
            at: at(1),
        };
        assert_eq!(
            state.apply(&Command::ShardDdlArrive(stray.clone()), 3),
            Response::Rejected(Rejection::TaskNotFound("nope".into()))
        );
        stray.task = "t".into();
        stray.source = "s9".into();
        assert_eq!(
            state.apply(&Command::ShardDdlArrive(stray), 3),
            Response::Rejected(Rejection::SourceNotInTask {
                task: "t".into(),
                source_id: "s9".into()
            })
        );
        assert!(state.shard_ddl_locks.is_empty());
    }
}
