//! `pause-task | resume-task | stop-task -s SOURCE...` without a task:
//! the operation on every task of those sources, restricted to them.
//!
//! As DM: the tasks are found with `query-status` of the sources, then one
//! `operate-task` per task is sent, `--batch-size` at a time, and the
//! answers are printed with DM's batch shape (`{"result", "msg", "tasks":
//! [{"task", "op", "result", "msg", "sources"}]}`, where a source entry
//! omits a false `result` and empty fields as DM's Go JSON does, and
//! stop-task's op is named `Delete`). DM takes exactly one source; any
//! number may be given here, and each task is operated on those of its
//! sources that were given.

use std::collections::BTreeMap;

use dm_proto::pb;
use serde::Serialize;

use crate::client::Masters;
use crate::commands::{rpc, to_json, Outcome};
use crate::error::CtlError;

/// DM's text when neither a task nor a source is given.
pub const NEED_SOURCE: &str = "must give one source-name when task-name/task-conf is not specified";

/// The default of `--batch-size`.
pub const DEFAULT_BATCH_SIZE: usize = 5;

#[derive(Debug, Serialize, PartialEq)]
pub struct BatchAnswer {
    pub result: bool,
    pub msg: String,
    pub tasks: Vec<TaskResult>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct TaskResult {
    pub task: String,
    pub op: String,
    pub result: bool,
    pub msg: String,
    pub sources: Vec<SourceResult>,
}

/// One source's answer, with DM's `omitempty` fields.
#[derive(Debug, Serialize, PartialEq)]
pub struct SourceResult {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub result: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub worker: String,
}

/// The name DM prints for the operation (`Delete` for stop-task).
pub fn op_name(op: pb::TaskOp) -> &'static str {
    match op {
        pb::TaskOp::Stop => "Delete",
        other => other.as_str_name(),
    }
}

/// Each task found on the `requested` sources, with those of its sources
/// that were requested, from a `query-status` answer (pure).
pub fn tasks_of(
    status: &pb::QueryStatusListResponse,
    requested: &[String],
) -> BTreeMap<String, Vec<String>> {
    let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for source in &status.sources {
        let Some(id) = source.source_status.as_ref().map(|s| &s.source) else {
            continue;
        };
        if !requested.contains(id) {
            continue;
        }
        for subtask in &source.sub_task_status {
            let sources = tasks.entry(subtask.name.clone()).or_default();
            if !sources.contains(id) {
                sources.push(id.clone());
            }
        }
    }
    tasks
}

/// One task's line of the batch answer.
pub fn task_result(
    task: &str,
    op: pb::TaskOp,
    answer: Result<pb::OperateTaskResponse, CtlError>,
) -> TaskResult {
    match answer {
        Ok(resp) => TaskResult {
            task: task.to_string(),
            op: op_name(op).to_string(),
            result: resp.result,
            msg: resp.msg,
            sources: resp
                .sources
                .into_iter()
                .map(|s| SourceResult {
                    result: s.result,
                    msg: s.msg,
                    source: s.source,
                    worker: s.worker,
                })
                .collect(),
        },
        Err(e) => TaskResult {
            task: task.to_string(),
            op: op_name(op).to_string(),
            result: false,
            msg: e.to_string(),
            sources: Vec::new(),
        },
    }
}

/// Runs `op` on every task of `sources`.
pub async fn run(
    op: pb::TaskOp,
    sources: Vec<String>,
    batch_size: usize,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    if sources.is_empty() {
        return Ok(crate::commands::failure(NEED_SOURCE));
    }
    let query = pb::QueryStatusListRequest {
        name: String::new(),
        sources: sources.clone(),
    };
    let status = rpc!(masters, query_status, query)?;
    if !status.result {
        let failed = BatchAnswer {
            result: false,
            msg: status.msg,
            tasks: Vec::new(),
        };
        return Ok(Outcome {
            output: to_json(&failed),
            ok: false,
        });
    }
    let tasks: Vec<(String, Vec<String>)> = tasks_of(&status, &sources).into_iter().collect();
    let mut results = Vec::new();
    for batch in tasks.chunks(batch_size.max(1)) {
        let mut running = tokio::task::JoinSet::new();
        for (index, (task, task_sources)) in batch.iter().enumerate() {
            let masters = masters.clone();
            let req = pb::OperateTaskRequest {
                op: op as i32,
                name: task.clone(),
                sources: task_sources.clone(),
            };
            running.spawn(async move { (index, rpc!(masters, operate_task, req)) });
        }
        let mut answers: Vec<Option<Result<pb::OperateTaskResponse, CtlError>>> =
            batch.iter().map(|_| None).collect();
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((index, answer)) => {
                    if let Some(slot) = answers.get_mut(index) {
                        *slot = Some(answer);
                    }
                }
                Err(e) => {
                    return Err(CtlError::Flag {
                        flag: "batch",
                        message: format!("a request stopped: {e}"),
                    })
                }
            }
        }
        for ((task, _), answer) in batch.iter().zip(answers) {
            let answer = answer.unwrap_or_else(|| {
                Err(CtlError::Flag {
                    flag: "batch",
                    message: "no answer".into(),
                })
            });
            results.push(task_result(task, op, answer));
        }
    }
    let ok = results.iter().all(|t| t.result);
    let answer = BatchAnswer {
        result: true,
        msg: String::new(),
        tasks: results,
    };
    Ok(Outcome {
        output: to_json(&answer),
        ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(source: &str, tasks: &[&str]) -> pb::QueryStatusResponse {
        pb::QueryStatusResponse {
            result: true,
            msg: String::new(),
            source_status: Some(pb::SourceStatus {
                source: source.into(),
                worker: format!("w-{source}"),
                result: None,
                relay_status: None,
            }),
            sub_task_status: tasks
                .iter()
                .map(|t| pb::SubTaskStatus {
                    name: (*t).into(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn every_task_of_the_sources_restricted_to_them() {
        let answer = pb::QueryStatusListResponse {
            result: true,
            msg: String::new(),
            sources: vec![
                status("s1", &["a", "b"]),
                status("s2", &["b", "c"]),
                status("s3", &["d"]),
            ],
        };
        let tasks = tasks_of(&answer, &["s1".into(), "s2".into()]);
        assert_eq!(
            tasks.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_string(), vec!["s1".to_string()]),
                ("b".to_string(), vec!["s1".to_string(), "s2".to_string()]),
                ("c".to_string(), vec!["s2".to_string()]),
            ]
        );
    }

    #[test]
    fn the_answer_has_dms_batch_shape() {
        let ok = task_result(
            "t1",
            pb::TaskOp::Stop,
            Ok(pb::OperateTaskResponse {
                op: pb::TaskOp::Stop as i32,
                result: true,
                msg: String::new(),
                sources: vec![pb::CommonWorkerResponse {
                    result: true,
                    msg: String::new(),
                    source: "mysql-replica-01".into(),
                    worker: "worker1".into(),
                }],
            }),
        );
        let failed = task_result(
            "t2",
            pb::TaskOp::Pause,
            Ok(pb::OperateTaskResponse {
                op: pb::TaskOp::Pause as i32,
                result: false,
                msg: "task t2 does not exist".into(),
                sources: vec![pb::CommonWorkerResponse {
                    result: false,
                    msg: String::new(),
                    source: "s".into(),
                    worker: String::new(),
                }],
            }),
        );
        let text = to_json(&BatchAnswer {
            result: true,
            msg: String::new(),
            tasks: vec![ok, failed],
        });
        assert_eq!(
            text,
            r#"{
    "result": true,
    "msg": "",
    "tasks": [
        {
            "task": "t1",
            "op": "Delete",
            "result": true,
            "msg": "",
            "sources": [
                {
                    "result": true,
                    "source": "mysql-replica-01",
                    "worker": "worker1"
                }
            ]
        },
        {
            "task": "t2",
            "op": "Pause",
            "result": false,
            "msg": "task t2 does not exist",
            "sources": [
                {
                    "source": "s"
                }
            ]
        }
    ]
}"#
        );
        assert_eq!(op_name(pb::TaskOp::Resume), "Resume");
    }
}
