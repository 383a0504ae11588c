//! [`ClusterState::apply`]: the one place the replicated state changes.

use std::collections::BTreeMap;

use super::{
    Binding, CheckpointEntry, ClusterState, Command, Rejection, Response, SourceEntry, TaskEntry,
    WorkerEntry,
};

impl ClusterState {
    /// Applies `command`, proposed by the leader at `proposed_at_ms`. A
    /// command that does not fit the state changes nothing and says why.
    pub fn apply(&mut self, command: &Command, proposed_at_ms: u64) -> Response {
        match self.try_apply(command, proposed_at_ms) {
            Ok(response) => response,
            Err(rejection) => Response::Rejected(rejection),
        }
    }

    fn try_apply(&mut self, command: &Command, now_ms: u64) -> Result<Response, Rejection> {
        match command {
            Command::CreateSource { config } => {
                let id = &config.source_id;
                if self.sources.contains_key(id) {
                    return Err(Rejection::SourceExists(id.clone()));
                }
                self.sources.insert(
                    id.clone(),
                    SourceEntry {
                        config: config.as_ref().clone(),
                        created_at_ms: now_ms,
                    },
                );
            }
            Command::RemoveSource { source_id } => {
                if !self.sources.contains_key(source_id) {
                    return Err(Rejection::SourceNotFound(source_id.clone()));
                }
                let tasks = self.tasks_of(source_id);
                if !tasks.is_empty() {
                    return Err(Rejection::SourceInUse {
                        source_id: source_id.clone(),
                        tasks: tasks.join(", "),
                    });
                }
                self.sources.remove(source_id);
                self.bindings.remove(source_id);
            }
            Command::RegisterWorker {
                name,
                addr,
                keepalive_ttl_ms,
                config,
            } => match self.workers.get_mut(name) {
                Some(existing) if existing.addr != *addr => {
                    return Err(Rejection::WorkerNameTaken {
                        name: name.clone(),
                        existing: existing.addr.clone(),
                        requested: addr.clone(),
                    })
                }
                Some(existing) => {
                    existing.keepalive_ttl_ms = *keepalive_ttl_ms;
                    existing.config = config.clone();
                }
                None => {
                    self.workers.insert(
                        name.clone(),
                        WorkerEntry {
                            addr: addr.clone(),
                            registered_at_ms: now_ms,
                            keepalive_ttl_ms: *keepalive_ttl_ms,
                            config: config.clone(),
                        },
                    );
                }
            },
            Command::RemoveWorker { name } => {
                if !self.workers.contains_key(name) {
                    return Err(Rejection::WorkerNotFound(name.clone()));
                }
                if let Some(source) = self.source_bound_to(name) {
                    return Err(Rejection::WorkerBound(name.clone(), source));
                }
                self.workers.remove(name);
                self.last_bindings.remove(name);
            }
            Command::Bind { source, worker } => {
                if !self.sources.contains_key(source) {
                    return Err(Rejection::SourceNotFound(source.clone()));
                }
                if !self.workers.contains_key(worker) {
                    return Err(Rejection::WorkerNotFound(worker.clone()));
                }
                if let Some(other) = self.source_bound_to(worker).filter(|s| s != source) {
                    return Err(Rejection::WorkerBusy {
                        worker: worker.clone(),
                        source_id: other,
                    });
                }
                let epoch = self.next_epoch;
                self.next_epoch += 1;
                self.bindings.insert(
                    source.clone(),
                    Binding {
                        worker: worker.clone(),
                        epoch,
                        bound_at_ms: now_ms,
                    },
                );
                self.last_bindings.insert(worker.clone(), source.clone());
                return Ok(Response::Bound { epoch });
            }
            Command::Unbind { source } => {
                if self.bindings.remove(source).is_none() {
                    return Err(Rejection::NotBound(source.clone()));
                }
            }
            Command::StartTask {
                name,
                config_yaml,
                sources,
                stage,
                start_time,
            } => {
                if self.tasks.contains_key(name) {
                    return Err(Rejection::TaskExists(name.clone()));
                }
                if let Some(missing) = sources.iter().find(|s| !self.sources.contains_key(*s)) {
                    return Err(Rejection::SourceNotFound(missing.clone()));
                }
                self.tasks.insert(
                    name.clone(),
                    TaskEntry {
                        config_yaml: config_yaml.clone(),
                        stages: sources.iter().map(|s| (s.clone(), *stage)).collect(),
                        created_at_ms: now_ms,
                        resumes: BTreeMap::new(),
                        start_time: start_time.clone(),
                    },
                );
            }
            Command::SetTaskStage {
                name,
                sources,
                stage,
            } => {
                let task = self
                    .tasks
                    .get_mut(name)
                    .ok_or_else(|| Rejection::TaskNotFound(name.clone()))?;
                let targets = select_sources(name, &task.stages, sources)?;
                for source in targets {
                    if *stage == super::TaskStage::Running {
                        *task.resumes.entry(source.clone()).or_default() += 1;
                    }
                    task.stages.insert(source, *stage);
                }
            }
            Command::StopTask { name, sources } => {
                let task = self
                    .tasks
                    .get_mut(name)
                    .ok_or_else(|| Rejection::TaskNotFound(name.clone()))?;
                let targets = select_sources(name, &task.stages, sources)?;
                for source in &targets {
                    task.stages.remove(source);
                    task.resumes.remove(source);
                }
                let emptied = task.stages.is_empty();
                self.shard_ddl_sources_left(name, &targets);
                self.schema_ops_sources_left(name, &targets);
                self.binlog_ops_sources_left(name, &targets);
                if emptied {
                    self.tasks.remove(name);
                    self.checkpoints.remove(name);
                } else if let Some(points) = self.checkpoints.get_mut(name) {
                    for source in &targets {
                        points.remove(source);
                    }
                }
            }
            Command::ShardDdlArrive(arrival) => self.shard_ddl_arrive(arrival, now_ms)?,
            Command::ShardDdlDone { lock, source, at } => self.shard_ddl_done(lock, source, at)?,
            Command::UnlockDdlLock {
                lock,
                owner,
                force_remove,
            } => self.unlock_ddl_lock(lock, owner, *force_remove)?,
            Command::AddSchemaOps { task, ops } => {
                let ids = self.add_schema_ops(task, ops, now_ms)?;
                return Ok(Response::SchemaOps { ids });
            }
            Command::SchemaOpsApplied {
                task,
                source,
                applied,
            } => self.schema_ops_applied(task, source, *applied),
            Command::EvictLeader { name, voters } => self.evict_leader(name, voters)?,
            Command::CancelEvictLeader { name } => self.cancel_evict_leader(name.as_deref()),
            Command::SetBinlogOps { task, ops, resume } => {
                let ids = self.set_binlog_ops(task, ops, resume, now_ms)?;
                return Ok(Response::BinlogOps { ids });
            }
            Command::RevertBinlogOp { task, source, at } => {
                self.revert_binlog_op(task, source, at)?;
            }
            Command::BinlogOpsDone { task, source, ids } => {
                self.binlog_ops_done(task, source, ids);
            }
            Command::Noop => {}
            Command::RecordKeyCheck { check } => self.record_key_check(check)?,
            Command::PrepareImport { epoch_floor } => {
                if !self.sources.is_empty() || !self.tasks.is_empty() {
                    let listed = |names: Vec<&str>| {
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    };
                    return Err(Rejection::ClusterNotEmpty {
                        sources: listed(self.sources.keys().map(String::as_str).collect()),
                        tasks: listed(self.tasks.keys().map(String::as_str).collect()),
                    });
                }
                self.next_epoch = self.next_epoch.max(*epoch_floor);
            }
            Command::ReportCheckpoints { reports } => {
                for report in reports {
                    let known = self
                        .tasks
                        .get(&report.task)
                        .is_some_and(|t| t.stages.contains_key(&report.source));
                    if !known {
                        // The task stopped meanwhile: the report is stale.
                        continue;
                    }
                    self.checkpoints
                        .entry(report.task.clone())
                        .or_default()
                        .insert(
                            report.source.clone(),
                            CheckpointEntry {
                                binlog_name: report.binlog_name.clone(),
                                binlog_pos: report.binlog_pos,
                                binlog_gtid: report.binlog_gtid.clone(),
                                reported_at_ms: now_ms,
                            },
                        );
                }
            }
        }
        Ok(Response::Done)
    }

    /// Names of the tasks that use `source_id`.
    pub fn tasks_of(&self, source_id: &str) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.stages.contains_key(source_id))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The source `worker` is bound to, if any.
    pub fn source_bound_to(&self, worker: &str) -> Option<String> {
        self.bindings
            .iter()
            .find(|(_, b)| b.worker == worker)
            .map(|(source, _)| source.clone())
    }
}

/// `requested` sources of a task (all of them when empty), each checked.
fn select_sources<T>(
    task: &str,
    stages: &BTreeMap<String, T>,
    requested: &[String],
) -> Result<Vec<String>, Rejection> {
    if requested.is_empty() {
        return Ok(stages.keys().cloned().collect());
    }
    for source in requested {
        if !stages.contains_key(source) {
            return Err(Rejection::SourceNotInTask {
                task: task.to_string(),
                source_id: source.clone(),
            });
        }
    }
    Ok(requested.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{CheckpointReport, TaskStage};
    use dm_proto::config::SourceConfig;

    fn source(id: &str) -> Command {
        let text = format!("source-id: {id}\nfrom:\n  host: 127.0.0.1\n  user: root\n");
        Command::CreateSource {
            config: Box::new(SourceConfig::parse("s.yaml", &text).expect("valid source")),
        }
    }

    fn worker(name: &str) -> Command {
        Command::RegisterWorker {
            name: name.into(),
            addr: format!("{name}:8262"),
            keepalive_ttl_ms: 2000,
            config: String::new(),
        }
    }

    /// Applies a script of commands, checking each response.
    fn run(state: &mut ClusterState, script: &[(Command, Response)]) {
        for (n, (command, expected)) in script.iter().enumerate() {
            assert_eq!(
                &state.apply(command, 1000 + n as u64),
                expected,
                "step {n}: {command:?}"
            );
        }
    }

    #[test]
    fn sources_are_created_once_and_removed_when_unused() {
        let mut state = ClusterState::default();
        run(
            &mut state,
            &[
                (source("s1"), Response::Done),
                (
                    source("s1"),
                    Response::Rejected(Rejection::SourceExists("s1".into())),
                ),
                (
                    Command::RemoveSource {
                        source_id: "s2".into(),
                    },
                    Response::Rejected(Rejection::SourceNotFound("s2".into())),
                ),
                (
                    Command::StartTask {
                        name: "t".into(),
                        config_yaml: "name: t".into(),
                        sources: vec!["s1".into()],
                        stage: TaskStage::Running,
                        start_time: String::new(),
                    },
                    Response::Done,
                ),
                (
                    Command::RemoveSource {
                        source_id: "s1".into(),
                    },
                    Response::Rejected(Rejection::SourceInUse {
                        source_id: "s1".into(),
                        tasks: "t".into(),
                    }),
                ),
                (
                    Command::StopTask {
                        name: "t".into(),
                        sources: vec![],
                    },
                    Response::Done,
                ),
                (
                    Command::RemoveSource {
                        source_id: "s1".into(),
                    },
                    Response::Done,
                ),
            ],
        );
        assert!(state.sources.is_empty());
        assert!(state.tasks.is_empty());
        assert_eq!(state.sources.len(), 0);
    }

    #[test]
    fn an_import_is_prepared_only_in_an_empty_cluster_and_raises_the_epochs() {
        let mut state = ClusterState::default();
        run(
            &mut state,
            &[
                (Command::PrepareImport { epoch_floor: 7 }, Response::Done),
                // A floor below the next epoch never lowers it.
                (Command::PrepareImport { epoch_floor: 2 }, Response::Done),
                (source("s1"), Response::Done),
                (worker("w1"), Response::Done),
                (
                    Command::Bind {
                        source: "s1".into(),
                        worker: "w1".into(),
                    },
                    Response::Bound { epoch: 7 },
                ),
                (
                    Command::PrepareImport { epoch_floor: 20 },
                    Response::Rejected(Rejection::ClusterNotEmpty {
                        sources: "s1".into(),
                        tasks: "none".into(),
                    }),
                ),
            ],
        );
        assert_eq!(state.next_epoch, 8);
        assert_eq!(
            Rejection::ClusterNotEmpty {
                sources: "s1".into(),
                tasks: "none".into(),
            }
            .to_string(),
            "the cluster is not empty (sources: s1; tasks: none); import only into a cluster without sources and tasks, or stop them first (`stop-task`, `operate-source stop`)"
        );
    }

    #[test]
    fn every_binding_gets_a_larger_epoch_and_is_remembered() {
        let mut state = ClusterState::default();
        run(
            &mut state,
            &[
                (source("s1"), Response::Done),
                (worker("w1"), Response::Done),
                (worker("w2"), Response::Done),
                (
                    Command::Bind {
                        source: "s1".into(),
                        worker: "w1".into(),
                    },
                    Response::Bound { epoch: 1 },
                ),
                (
                    Command::Bind {
                        source: "s1".into(),
                        worker: "w2".into(),
                    },
                    Response::Bound { epoch: 2 },
                ),
                (
                    Command::RemoveWorker { name: "w2".into() },
                    Response::Rejected(Rejection::WorkerBound("w2".into(), "s1".into())),
                ),
                (
                    Command::Unbind {
                        source: "s1".into(),
                    },
                    Response::Done,
                ),
                (
                    Command::Unbind {
                        source: "s1".into(),
                    },
                    Response::Rejected(Rejection::NotBound("s1".into())),
                ),
                (
                    Command::Bind {
                        source: "s1".into(),
                        worker: "w1".into(),
                    },
                    Response::Bound { epoch: 3 },
                ),
            ],
        );
        assert_eq!(
            state.last_bindings.get("w2").map(String::as_str),
            Some("s1")
        );
        assert_eq!(state.next_epoch, 4);
    }

    #[test]
    fn a_worker_name_belongs_to_one_address() {
        let mut state = ClusterState::default();
        run(
            &mut state,
            &[
                (worker("w1"), Response::Done),
                (worker("w1"), Response::Done),
                (
                    Command::RegisterWorker {
                        name: "w1".into(),
                        addr: "other:1".into(),
                        keepalive_ttl_ms: 0,
                        config: String::new(),
                    },
                    Response::Rejected(Rejection::WorkerNameTaken {
                        name: "w1".into(),
                        existing: "w1:8262".into(),
                        requested: "other:1".into(),
                    }),
                ),
            ],
        );
    }

    #[test]
    fn task_stages_and_checkpoints_follow_the_task() {
        let mut state = ClusterState::default();
        let report = |task: &str, source: &str, pos: u32| CheckpointReport {
            task: task.into(),
            source: source.into(),
            binlog_name: "mysql-bin.000001".into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        };
        run(
            &mut state,
            &[
                (source("s1"), Response::Done),
                (source("s2"), Response::Done),
                (
                    Command::StartTask {
                        name: "t".into(),
                        config_yaml: "name: t".into(),
                        sources: vec!["s1".into(), "s2".into()],
                        stage: TaskStage::Running,
                        start_time: String::new(),
                    },
                    Response::Done,
                ),
                (
                    Command::SetTaskStage {
                        name: "t".into(),
                        sources: vec!["s2".into()],
                        stage: TaskStage::Paused,
                    },
                    Response::Done,
                ),
                (
                    Command::SetTaskStage {
                        name: "t".into(),
                        sources: vec!["s3".into()],
                        stage: TaskStage::Paused,
                    },
                    Response::Rejected(Rejection::SourceNotInTask {
                        task: "t".into(),
                        source_id: "s3".into(),
                    }),
                ),
                (
                    Command::ReportCheckpoints {
                        reports: vec![report("t", "s1", 400), report("gone", "s1", 9)],
                    },
                    Response::Done,
                ),
                (
                    Command::StopTask {
                        name: "t".into(),
                        sources: vec!["s1".into()],
                    },
                    Response::Done,
                ),
            ],
        );
        let task = &state.tasks["t"];
        assert_eq!(task.stages.get("s2"), Some(&TaskStage::Paused));
        assert!(!task.stages.contains_key("s1"));
        assert!(state
            .checkpoints
            .get("t")
            .is_none_or(|c| !c.contains_key("s1")));
        assert!(!state.checkpoints.contains_key("gone"));
    }
}
