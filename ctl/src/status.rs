//! `query-status` without a task: DM's one-line-per-task summary.
//!
//! DM's dmctl prints `{"result", "msg", "tasks": [{"taskName",
//! "taskStatus", "sources"}]}` when no task, source or `--more` is given;
//! the status is the subtasks' common stage, or an error notice when any
//! subtask reports an error.

use std::collections::BTreeMap;

use dm_proto::pb;
use serde::Serialize;

/// DM's notice for a task with a failing subtask.
pub const ERROR_STATUS: &str =
    "Error - Some error occurred in subtask. Please run `query-status <task>` to get more details.";

#[derive(Debug, Serialize, PartialEq)]
pub struct Summary {
    pub result: bool,
    pub msg: String,
    pub tasks: Vec<TaskSummary>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub task_name: String,
    pub task_status: String,
    pub sources: Vec<String>,
}

fn stage_name(stage: i32) -> String {
    pb::Stage::try_from(stage)
        .map(|s| s.as_str_name().to_string())
        .unwrap_or_else(|_| format!("Stage({stage})"))
}

/// A task's summary when some of its sources have no worker.
pub const NOT_BOUND_STATUS: &str = "Source not bound - no dm-worker runs";

/// What the summary gathers of one task's subtasks.
#[derive(Default)]
struct Gathered {
    sources: Vec<String>,
    stages: Vec<i32>,
    failed: bool,
    /// Sources that no worker runs (and so report nothing).
    unbound: Vec<String>,
}

/// Summarizes a full `query-status` answer per task.
pub fn summarize(answer: &pb::QueryStatusListResponse) -> Summary {
    let mut tasks: BTreeMap<String, Gathered> = BTreeMap::new();
    for source in &answer.sources {
        let (source_id, worker) = source
            .source_status
            .as_ref()
            .map(|s| (s.source.clone(), s.worker.clone()))
            .unwrap_or_default();
        for subtask in &source.sub_task_status {
            let entry = tasks.entry(subtask.name.clone()).or_default();
            entry.sources.push(source_id.clone());
            entry.stages.push(subtask.stage);
            entry.failed |= subtask
                .result
                .as_ref()
                .is_some_and(|r| !r.errors.is_empty());
            if worker.is_empty() {
                entry.unbound.push(source_id.clone());
            }
        }
    }
    Summary {
        result: answer.result,
        msg: answer.msg.clone(),
        tasks: tasks
            .into_iter()
            .map(|(task_name, g)| {
                let Gathered {
                    sources,
                    stages,
                    failed,
                    unbound,
                } = g;
                let task_status = if failed {
                    ERROR_STATUS.to_string()
                } else if !unbound.is_empty() {
                    format!("{NOT_BOUND_STATUS} {}", unbound.join(", "))
                } else if stages.windows(2).all(|w| w[0] == w[1]) {
                    stages.first().map_or_else(String::new, |s| stage_name(*s))
                } else if stages.contains(&(pb::Stage::Running as i32)) {
                    "Running".to_string()
                } else {
                    stages.first().map_or_else(String::new, |s| stage_name(*s))
                };
                TaskSummary {
                    task_name,
                    task_status,
                    sources,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, subtasks: Vec<(&str, pb::Stage, bool)>) -> pb::QueryStatusResponse {
        pb::QueryStatusResponse {
            result: true,
            msg: String::new(),
            source_status: Some(pb::SourceStatus {
                source: id.into(),
                worker: "w".into(),
                result: None,
                relay_status: None,
            }),
            sub_task_status: subtasks
                .into_iter()
                .map(|(name, stage, failed)| pb::SubTaskStatus {
                    name: name.into(),
                    stage: stage as i32,
                    unit: pb::UnitType::Sync as i32,
                    result: failed.then(|| pb::ProcessResult {
                        is_canceled: false,
                        errors: vec![pb::ProcessError::default()],
                        detail: Vec::new(),
                    }),
                    unresolved_ddl_lock_id: String::new(),
                    status: None,
                })
                .collect(),
        }
    }

    #[test]
    fn tasks_are_summarized_as_dm_does() {
        let answer = pb::QueryStatusListResponse {
            result: true,
            msg: String::new(),
            sources: vec![
                source(
                    "mysql1",
                    vec![
                        ("t1", pb::Stage::Running, false),
                        ("t2", pb::Stage::Paused, false),
                        ("t3", pb::Stage::Running, false),
                    ],
                ),
                source(
                    "mysql2",
                    vec![
                        ("t1", pb::Stage::Running, false),
                        ("t2", pb::Stage::Paused, false),
                        ("t3", pb::Stage::Paused, true),
                    ],
                ),
            ],
        };
        let summary = summarize(&answer);
        let statuses: Vec<(&str, &str, Vec<String>)> = summary
            .tasks
            .iter()
            .map(|t| {
                (
                    t.task_name.as_str(),
                    t.task_status.as_str(),
                    t.sources.clone(),
                )
            })
            .collect();
        assert_eq!(
            statuses,
            [
                (
                    "t1",
                    "Running",
                    vec!["mysql1".to_string(), "mysql2".to_string()]
                ),
                (
                    "t2",
                    "Paused",
                    vec!["mysql1".to_string(), "mysql2".to_string()]
                ),
                (
                    "t3",
                    ERROR_STATUS,
                    vec!["mysql1".to_string(), "mysql2".to_string()]
                ),
            ]
        );
        let mut unbound = answer.clone();
        if let Some(s) = unbound.sources[1].source_status.as_mut() {
            s.worker.clear();
        }
        assert_eq!(
            summarize(&unbound).tasks[0].task_status,
            format!("{NOT_BOUND_STATUS} mysql2")
        );
        let json = serde_json::to_value(&summary).expect("json");
        assert_eq!(json["tasks"][0]["taskName"], "t1");
        assert_eq!(json["tasks"][0]["taskStatus"], "Running");
    }
}
