//! start-task, stop/pause/resume-task, query-status, check-task.
//!
//! The master validates a task file, checks that its sources exist, runs
//! the pre-check on their upstreams ([`crate::precheck`]; skipped when the
//! task ignores `all`), and stores the task with one expected stage per
//! source (its subtasks) in Raft. Workers get the subtasks of their bound
//! sources through the heartbeat. What a subtask is actually doing (stage, unit, progress,
//! errors) is what its worker last reported; a subtask no worker reported
//! yet shows stage `New`.

use std::collections::BTreeMap;

use dm_proto::config::task::TaskMode;
use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::precheck;
use crate::state::{ClusterState, Command, Response, TaskStage};

fn worker_of(state: &ClusterState, source: &str) -> String {
    state
        .bindings
        .get(source)
        .map(|b| b.worker.clone())
        .unwrap_or_default()
}

fn source_result(state: &ClusterState, source: &str) -> pb::CommonWorkerResponse {
    pb::CommonWorkerResponse {
        result: true,
        msg: String::new(),
        source: source.to_string(),
        worker: worker_of(state, source),
    }
}

/// The task's sources, restricted to `requested` (`-s`) when given.
fn select(task: &TaskConfig, requested: &[String]) -> Result<Vec<String>, MasterError> {
    let all: Vec<String> = task
        .mysql_instances
        .iter()
        .map(|i| i.source_id.clone())
        .collect();
    if requested.is_empty() {
        return Ok(all);
    }
    if let Some(unknown) = requested.iter().find(|s| !all.contains(s)) {
        return Err(MasterError::InvalidRequest(format!(
            "source {unknown} is not in task {}; its sources are {}",
            task.name,
            all.join(", ")
        )));
    }
    Ok(requested.to_vec())
}

pub async fn start(
    node: &Node,
    req: pb::StartTaskRequest,
) -> Result<pb::StartTaskResponse, MasterError> {
    let refuse = |msg: String| pb::StartTaskResponse {
        result: false,
        msg,
        sources: Vec::new(),
        check_result: String::new(),
    };
    let task = match TaskConfig::parse("task file", &req.task) {
        Ok(t) => t,
        Err(e) => return Ok(refuse(e.to_string())),
    };
    let sources = match select(&task, &req.sources) {
        Ok(s) => s,
        Err(e) => return Ok(refuse(e.to_string())),
    };
    if let Err(why) = start_time_fits(&task, &req.start_time) {
        return Ok(refuse(why));
    }
    if let Some(why) = super::key_check::ensure(node).await? {
        return Ok(refuse(why.to_string()));
    }
    let applied = node.read().await?;
    if let Some(missing) = sources
        .iter()
        .find(|s| !applied.state.sources.contains_key(*s))
    {
        return Ok(refuse(format!(
            "source {missing} does not exist; create it with `operate-source create` first"
        )));
    }
    // The pre-check covers the sources being started (all, or `-s`), and
    // the downstream; warnings do not stop the task.
    let removing_meta =
        (req.remove_meta || task.remove_meta) && !applied.state.tasks.contains_key(&task.name);
    let mut checked = task.clone();
    checked
        .mysql_instances
        .retain(|i| sources.contains(&i.source_id));
    let report = precheck::check_task(
        &*node.databases,
        &checked,
        &source_configs(&applied.state, &sources),
        removing_meta,
        !req.start_time.is_empty(),
    )
    .await;
    if !report.passed() {
        tracing::info!(task = %task.name, failures = report.problems(precheck::Severity::Fail).len(), "start-task refused by the pre-check");
        return Ok(refuse(report.to_string()));
    }
    let check_result = report.to_string();
    if removing_meta {
        if let Err(e) = node.databases.remove_meta(&task).await {
            return Ok(refuse(e.to_string()));
        }
    }
    if let Some(unknown) = req.paused_sources.iter().find(|s| !sources.contains(s)) {
        return Ok(refuse(format!(
            "source {unknown} is to start paused but is not among the started sources ({})",
            sources.join(", ")
        )));
    }
    // With sources to start paused, every subtask starts Paused and the
    // others are resumed next: a paused one never runs.
    let command = Command::StartTask {
        name: task.name.clone(),
        // Kept with its password encrypted (`config::at_rest`).
        config_yaml: dm_proto::config::at_rest::task_yaml_at_rest(&req.task, &task),
        sources: sources.clone(),
        stage: if req.paused_sources.is_empty() {
            TaskStage::Running
        } else {
            TaskStage::Paused
        },
        start_time: req.start_time.clone(),
    };
    if let Response::Rejected(why) = node.write(command).await? {
        return Ok(refuse(why.to_string()));
    }
    let running: Vec<String> = sources
        .iter()
        .filter(|s| !req.paused_sources.is_empty() && !req.paused_sources.contains(s))
        .cloned()
        .collect();
    if !running.is_empty() {
        let command = Command::SetTaskStage {
            name: task.name.clone(),
            sources: running,
            stage: TaskStage::Running,
        };
        if let Response::Rejected(why) = node.write(command).await? {
            return Ok(refuse(format!(
                "task {} started paused on every source, but could not be resumed on the others: {why}",
                task.name
            )));
        }
    }
    tracing::info!(task = %task.name, sources = ?sources, "task started");
    let applied = node.state();
    Ok(pb::StartTaskResponse {
        result: true,
        msg: String::new(),
        sources: sources
            .iter()
            .map(|s| source_result(&applied.state, s))
            .collect(),
        check_result,
    })
}

/// `--start-time` (empty: not given) has one of DM's forms, and the task
/// begins with the binlog sync: a task that copies first starts its sync
/// where its consistent snapshot was taken, never at another time.
fn start_time_fits(task: &TaskConfig, start_time: &str) -> Result<(), String> {
    if start_time.is_empty() {
        return Ok(());
    }
    dm_proto::start_time::StartTime::parse(start_time).map_err(|e| e.to_string())?;
    if task.task_mode != TaskMode::Incremental {
        return Err(format!(
            "--start-time begins the binlog sync at a time, so it needs task-mode: incremental; task {} has task-mode: {} (its sync begins where the full copy's snapshot was taken)",
            task.name,
            match task.task_mode {
                TaskMode::Full => "full",
                TaskMode::Incremental => "incremental",
                TaskMode::All => "all",
            }
        ));
    }
    Ok(())
}

/// The configurations of `sources` that exist.
fn source_configs(state: &ClusterState, sources: &[String]) -> BTreeMap<String, SourceConfig> {
    sources
        .iter()
        .filter_map(|s| {
            state
                .sources
                .get(s)
                .map(|entry| (s.clone(), entry.config.clone()))
        })
        .collect()
}

pub async fn operate(
    node: &Node,
    req: pb::OperateTaskRequest,
) -> Result<pb::OperateTaskResponse, MasterError> {
    let refuse = |msg: String| pb::OperateTaskResponse {
        op: req.op,
        result: false,
        msg,
        sources: Vec::new(),
    };
    let applied = node.read().await?;
    let Some(entry) = applied.state.tasks.get(&req.name) else {
        return Ok(refuse(format!("task {} does not exist", req.name)));
    };
    let sources: Vec<String> = if req.sources.is_empty() {
        entry.stages.keys().cloned().collect()
    } else {
        req.sources.clone()
    };
    let command = match pb::TaskOp::try_from(req.op) {
        Ok(pb::TaskOp::Stop) => Command::StopTask {
            name: req.name.clone(),
            sources: req.sources.clone(),
        },
        Ok(pb::TaskOp::Pause) => Command::SetTaskStage {
            name: req.name.clone(),
            sources: req.sources.clone(),
            stage: TaskStage::Paused,
        },
        Ok(pb::TaskOp::Resume) => Command::SetTaskStage {
            name: req.name.clone(),
            sources: req.sources.clone(),
            stage: TaskStage::Running,
        },
        _ => {
            return Err(MasterError::InvalidRequest(format!(
                "task operation {} is not stop, pause or resume",
                req.op
            )))
        }
    };
    if let Response::Rejected(why) = node.write(command).await? {
        return Ok(refuse(why.to_string()));
    }
    Ok(pb::OperateTaskResponse {
        op: req.op,
        result: true,
        msg: String::new(),
        sources: sources
            .iter()
            .map(|s| source_result(&applied.state, s))
            .collect(),
    })
}

/// Per source: its worker and the status of the selected task(s)' subtasks.
pub async fn query_status(
    node: &Node,
    req: pb::QueryStatusListRequest,
) -> Result<pb::QueryStatusListResponse, MasterError> {
    let applied = node.read().await?;
    let state = &applied.state;
    if !req.name.is_empty() && !state.tasks.contains_key(&req.name) {
        return Ok(pb::QueryStatusListResponse {
            result: false,
            msg: format!("task {} does not exist", req.name),
            sources: Vec::new(),
        });
    }
    let mut per_source: std::collections::BTreeMap<String, Vec<pb::SubTaskStatus>> =
        std::collections::BTreeMap::new();
    for (name, task) in &state.tasks {
        if !req.name.is_empty() && *name != req.name {
            continue;
        }
        for source in task.stages.keys() {
            if !req.sources.is_empty() && !req.sources.contains(source) {
                continue;
            }
            let reported = node
                .liveness
                .subtask_report(&worker_of(state, source), source, name)
                .filter(|r| r.generation == task.created_at_ms);
            per_source
                .entry(source.clone())
                .or_default()
                .push(pb::SubTaskStatus {
                    unresolved_ddl_lock_id: unresolved_lock(state, name, source),
                    ..subtask_status(
                        name,
                        reported,
                        stored_checkpoint(state, name, source),
                        state.bindings.contains_key(source),
                    )
                });
        }
    }
    Ok(pb::QueryStatusListResponse {
        result: true,
        msg: String::new(),
        sources: per_source
            .into_iter()
            .map(|(source, subtasks)| pb::QueryStatusResponse {
                result: true,
                msg: String::new(),
                source_status: Some(pb::SourceStatus {
                    worker: worker_of(state, &source),
                    source,
                    result: None,
                    relay_status: None,
                }),
                sub_task_status: subtasks,
            })
            .collect(),
    })
}

/// The shard-DDL lock `source` of `task` reached and waits on.
fn unresolved_lock(state: &ClusterState, task: &str, source: &str) -> String {
    state
        .shard_ddl_locks
        .iter()
        .find(|(_, l)| {
            l.task == task
                && l.members
                    .get(source)
                    .is_some_and(|m| m.arrived.is_some() && !m.done)
        })
        .map(|(id, _)| id.clone())
        .unwrap_or_default()
}

/// The checkpoint the leader last stored in Raft for a subtask, as text.
fn stored_checkpoint(state: &ClusterState, task: &str, source: &str) -> Option<String> {
    let cp = state.checkpoints.get(task)?.get(source)?;
    Some(format!("({}, {})", cp.binlog_name, cp.binlog_pos))
}

/// Why a subtask of a source without a worker runs nowhere.
const NOT_BOUND: &str = "source not bound: no dm-worker runs this source (every worker is offline or runs another source); start a dm-worker and the subtask resumes from its checkpoint";

fn subtask_status(
    task: &str,
    reported: Option<pb::SubtaskReport>,
    stored: Option<String>,
    bound: bool,
) -> pb::SubTaskStatus {
    match reported {
        Some(report) => pb::SubTaskStatus {
            name: task.to_string(),
            stage: report.stage,
            unit: report.unit,
            result: report.result.map(|r| with_recovery(task, r)),
            unresolved_ddl_lock_id: String::new(),
            status: report.progress.map(|p| match p {
                pb::subtask_report::Progress::Dump(d) => pb::sub_task_status::Status::Dump(d),
                pb::subtask_report::Progress::Load(l) => pb::sub_task_status::Status::Load(l),
                pb::subtask_report::Progress::Sync(s) => pb::sub_task_status::Status::Sync(s),
            }),
        },
        None => pb::SubTaskStatus {
            name: task.to_string(),
            stage: pb::Stage::New as i32,
            unit: pb::UnitType::InvalidUnit as i32,
            result: None,
            unresolved_ddl_lock_id: String::new(),
            status: Some(pb::sub_task_status::Status::Msg({
                let why = if bound {
                    "no worker has reported this subtask yet"
                } else {
                    NOT_BOUND
                };
                match stored {
                    Some(at) => format!("{why}; its last stored checkpoint is {at}"),
                    None => why.to_string(),
                }
            })),
        },
    }
}

/// What the upstream answers (MySQL and MariaDB alike) when it no longer
/// has, or never had, the binlog position a replica asks for.
const BINLOG_GONE: &str = "ERROR 1236 (";

/// What recovers a subtask whose binlog position the upstream no longer
/// has: the changes in the purged binlogs exist nowhere else, so only a new
/// full copy brings them; the copy writes into empty tables only.
pub fn purged_binlog_recovery(task: &str) -> String {
    format!(
        "the upstream no longer has the binlog this subtask reads next (purged), so neither resume-task nor \
         start-task again recovers it: stop-task {task}; drop the task's tables downstream (the full copy writes \
         only into empty tables); then start-task --remove-meta with the task file at task-mode: all, which copies \
         the data again and replicates from there"
    )
}

/// `result` with the recovery that works for errors whose cause needs one.
fn with_recovery(task: &str, mut result: pb::ProcessResult) -> pb::ProcessResult {
    for error in &mut result.errors {
        if error.message.contains(BINLOG_GONE) {
            error.workaround = purged_binlog_recovery(task);
        }
    }
    result
}

/// Validates the file and that each source exists, then runs the
/// pre-check: DM's "pre-check is passed. ", or DM's header and the results
/// that did not pass (at most `errCnt` failures and `warnCnt` warnings
/// shown); `result` is false only when something failed.
pub async fn check(
    node: &Node,
    req: pb::CheckTaskRequest,
) -> Result<pb::CheckTaskResponse, MasterError> {
    let fail = |msg: String| pb::CheckTaskResponse { result: false, msg };
    let task = match TaskConfig::parse("task file", &req.task) {
        Ok(t) => t,
        Err(e) => return Ok(fail(e.to_string())),
    };
    if let Err(why) = start_time_fits(&task, &req.start_time) {
        return Ok(fail(why));
    }
    let applied = node.read().await?;
    if let Some(why) = super::key_check::mismatch(&applied.state) {
        return Ok(fail(why.to_string()));
    }
    let missing: Vec<String> = task
        .mysql_instances
        .iter()
        .filter(|i| !applied.state.sources.contains_key(&i.source_id))
        .map(|i| {
            format!(
                "source {}: does not exist; create it with `operate-source create`",
                i.source_id
            )
        })
        .collect();
    if !missing.is_empty() {
        return Ok(fail(missing.join("\n")));
    }
    let all: Vec<String> = task
        .mysql_instances
        .iter()
        .map(|i| i.source_id.clone())
        .collect();
    let report = precheck::check_task(
        &*node.databases,
        &task,
        &source_configs(&applied.state, &all),
        false,
        !req.start_time.is_empty(),
    )
    .await;
    let shown = |count: i64| usize::try_from(count).unwrap_or(0);
    Ok(pb::CheckTaskResponse {
        result: report.passed(),
        msg: report.message(shown(req.err_cnt), shown(req.warn_cnt)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purged_binlog_error_names_the_recovery() {
        let error = |message: &str| pb::ProcessError {
            err_code: String::new(),
            err_class: "sync".into(),
            err_scope: "internal".into(),
            err_level: "high".into(),
            message: message.into(),
            raw_cause: String::new(),
            workaround: "fix the cause, then `resume-task`".into(),
        };
        let result = with_recovery(
            "t",
            pb::ProcessResult {
                is_canceled: false,
                errors: vec![
                    error("upstream: reading the binlog: Server error: `ERROR 1236 (HY000): Could not find first log file name in binary log index file'"),
                    error("downstream: Duplicate entry"),
                ],
                detail: Vec::new(),
            },
        );
        assert_eq!(result.errors[0].workaround, purged_binlog_recovery("t"));
        assert!(result.errors[0].workaround.contains("stop-task t;"));
        assert_eq!(
            result.errors[1].workaround,
            "fix the cause, then `resume-task`"
        );
    }

    #[test]
    fn an_unreported_subtask_shows_its_stored_checkpoint() {
        let status = subtask_status("t", None, Some("(bin.000002, 900)".into()), true);
        assert_eq!(status.stage, pb::Stage::New as i32);
        assert_eq!(
            status.status,
            Some(pb::sub_task_status::Status::Msg(
                "no worker has reported this subtask yet; its last stored checkpoint is (bin.000002, 900)".into()
            ))
        );
    }
}
