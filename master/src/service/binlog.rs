//! `binlog skip|replace|revert|inject|list` (DM 2.0.7: `handle-error`) at
//! the service edge, and the heartbeat's half of the operations' protocol
//! (see `crate::state::BinlogOp` for the whole).
//!
//! Without `-b` an operation is about the event a subtask is paused on:
//! its start position comes from the subtask's last report (the worker
//! records where the event that stopped it starts); a subtask without one
//! answers DM's `source '<id>' has no error`. With `-b` the position is the
//! user's; a position belongs to one upstream, so `-b` needs one source
//! (given with `-s`, or the task's only one). The statements of `replace`
//! and `inject` are checked again here (`dm_proto::binlog_op`).
//!
//! All sources' operations are stored, and the subtasks they unblock (paused
//! by an error, never by `pause-task`) resumed, by one Raft command. As DM,
//! the answer has one entry per source and a top-level `result` that is
//! true once the request reached the sources; `list` shows every operation
//! still held for each source, as JSON in its `msg`.

use dm_proto::binlog_op::{parse_binlog_pos, split_sqls, BinlogAt};
use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{
    BinlogOpKind, ClusterState, Command, NewBinlogOp, Response as Applied, TaskStage,
};

fn answer(result: bool, msg: String) -> pb::HandleErrorResponse {
    pb::HandleErrorResponse {
        result,
        msg,
        sources: Vec::new(),
    }
}

/// DM's text for a request on an event that is not a statement.
pub const ONLY_DDL: &str = "only support to handle ddl error currently, see https://docs.pingcap.com/tidb-data-migration/stable/error-handling for other errors";

/// What the subtask's last report says about the event it is paused on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedAt {
    pub at: BinlogAt,
    pub on_statement: bool,
    /// The subtask is paused by the error (not merely reporting one).
    pub paused: bool,
}

impl PausedAt {
    /// From a report of the task's current generation.
    pub fn from_report(report: &pb::SubtaskReport) -> Option<PausedAt> {
        let start = report.error_start.as_ref()?;
        if report.result.is_none() || start.binlog_name.is_empty() {
            return None;
        }
        Some(PausedAt {
            at: BinlogAt::File {
                name: start.binlog_name.clone(),
                pos: start.binlog_pos,
            },
            on_statement: report.error_on_statement,
            paused: report.stage == pb::Stage::Paused as i32,
        })
    }
}

/// The position an operation on `source` is about (pure): the user's, or
/// where the subtask is paused; `Err` is that source's answer.
pub fn position_for(
    source: &str,
    given: Option<&BinlogAt>,
    paused: Option<&PausedAt>,
) -> Result<BinlogAt, String> {
    if let Some(at) = given {
        return Ok(at.clone());
    }
    let Some(paused) = paused else {
        return Err(format!("source '{source}' has no error"));
    };
    // DM lets `inject` through here; the sync acts only at statements, so
    // it is refused as well rather than never applied.
    if !paused.on_statement {
        return Err(ONLY_DDL.to_string());
    }
    Ok(paused.at.clone())
}

fn worker_of(state: &ClusterState, source: &str) -> String {
    state
        .bindings
        .get(source)
        .map(|b| b.worker.clone())
        .unwrap_or_default()
}

/// `binlog` / `handle-error`.
pub async fn handle(
    node: &Node,
    req: pb::HandleErrorRequest,
) -> Result<pb::HandleErrorResponse, MasterError> {
    let op = match pb::ErrorOp::try_from(req.op) {
        Ok(op) if op != pb::ErrorOp::InvalidErrorOp => op,
        _ => {
            return Ok(answer(
                false,
                format!(
                    "invalid operation '{}', please use `skip`, `replace`, `revert`, `inject` or `list`",
                    req.op
                ),
            ))
        }
    };
    let applied = node.read().await?;
    let state = &applied.state;
    let Some(entry) = state.tasks.get(&req.task) else {
        return Ok(answer(
            false,
            format!(
                "task {} has no source or not exist, please check the task name and status",
                req.task
            ),
        ));
    };
    let mut sources = if req.sources.is_empty() {
        entry.stages.keys().cloned().collect()
    } else {
        req.sources.clone()
    };
    sources.sort();
    sources.dedup();
    let given = if req.binlog_pos.trim().is_empty() {
        None
    } else {
        match parse_binlog_pos(&req.binlog_pos) {
            Ok(at) => Some(at),
            Err(e) => return Ok(answer(false, e.to_string())),
        }
    };
    if given.is_some() && sources.len() > 1 && op != pb::ErrorOp::List {
        return Ok(answer(
            false,
            format!(
                "a binlog position belongs to one upstream: give one source with `-s` (task {} has sources {})",
                req.task,
                sources.join(", ")
            ),
        ));
    }
    let kind = match op {
        pb::ErrorOp::Replace | pb::ErrorOp::Inject => {
            // Each request entry is one or more statements (DM's dmctl
            // sends one per entry, with its `;`).
            let mut sqls = Vec::new();
            for sql in &req.sqls {
                match split_sqls(std::slice::from_ref(sql)) {
                    Ok(s) => sqls.extend(s),
                    Err(e) => return Ok(answer(false, e.to_string())),
                }
            }
            if sqls.is_empty() {
                return Ok(answer(false, "no valid SQLs".into()));
            }
            Some(if op == pb::ErrorOp::Replace {
                BinlogOpKind::Replace(sqls)
            } else {
                BinlogOpKind::Inject(sqls)
            })
        }
        pb::ErrorOp::Skip => Some(BinlogOpKind::Skip),
        _ => None,
    };
    let mut answers: Vec<pb::CommonWorkerResponse> = Vec::new();
    let mut ops = Vec::new();
    let mut resume = Vec::new();
    let mut reverts = Vec::new();
    for source in &sources {
        let worker = worker_of(state, source);
        let reply = |result: bool, msg: String| pb::CommonWorkerResponse {
            result,
            msg,
            source: source.clone(),
            worker: worker.clone(),
        };
        if !entry.stages.contains_key(source) {
            answers.push(reply(
                false,
                format!("sub task with name {} not found", req.task),
            ));
            continue;
        }
        if op == pb::ErrorOp::List {
            answers.push(reply(true, list(state, &req.task, source)));
            continue;
        }
        let paused = node
            .liveness
            .subtask_report(&worker, source, &req.task)
            .filter(|r| r.generation == entry.created_at_ms)
            .and_then(|r| PausedAt::from_report(&r));
        let at = match position_for(source, given.as_ref(), paused.as_ref()) {
            Ok(at) => at,
            Err(msg) => {
                answers.push(reply(false, msg));
                continue;
            }
        };
        match &kind {
            Some(kind) => {
                let unblocks = paused.as_ref().is_some_and(|p| p.paused && p.at == at);
                if unblocks && entry.stages.get(source) == Some(&TaskStage::Running) {
                    resume.push(source.clone());
                }
                ops.push(NewBinlogOp {
                    source: source.clone(),
                    at,
                    kind: kind.clone(),
                });
            }
            None => reverts.push((source.clone(), at)),
        }
        answers.push(reply(true, String::new()));
    }
    if !ops.is_empty() {
        let command = Command::SetBinlogOps {
            task: req.task.clone(),
            ops: ops.clone(),
            resume,
        };
        match node.write(command).await? {
            Applied::BinlogOps { ids } => {
                tracing::info!(task = %req.task, ?ids, ?ops, "binlog operations held")
            }
            Applied::Rejected(why) => return Ok(answer(false, why.to_string())),
            other => {
                return Err(MasterError::Raft(format!(
                    "unexpected answer to a binlog operation: {other:?}"
                )))
            }
        }
    }
    for (source, at) in reverts {
        let command = Command::RevertBinlogOp {
            task: req.task.clone(),
            source: source.clone(),
            at,
        };
        if let Applied::Rejected(why) = node.write(command).await? {
            if let Some(a) = answers.iter_mut().find(|a| a.source == source) {
                a.result = false;
                a.msg = why.to_string();
            }
        }
    }
    Ok(pb::HandleErrorResponse {
        result: true,
        msg: String::new(),
        sources: answers,
    })
}

/// One source's held operations as `list` shows them (JSON).
fn list(state: &ClusterState, task: &str, source: &str) -> String {
    let ops: Vec<serde_json::Value> = state
        .binlog_ops_of(task, source)
        .iter()
        .map(|op| {
            let mut v = serde_json::json!({
                "id": op.id,
                "op": op.kind.name(),
                "task": task,
                "binlogPos": op.at.to_string(),
            });
            if !op.kind.sqls().is_empty() {
                v["sqls"] = serde_json::json!(op.kind.sqls());
            }
            v
        })
        .collect();
    serde_json::to_string(&ops).unwrap_or_else(|_| "[]".into())
}

/// The operations for `source` of `task` in a heartbeat answer.
pub fn operations_for(state: &ClusterState, task: &str, source: &str) -> Vec<pb::BinlogOperation> {
    state
        .binlog_ops_of(task, source)
        .iter()
        .map(|op| {
            let (binlog_name, binlog_pos, gtid) = match &op.at {
                BinlogAt::File { name, pos } => (name.clone(), *pos, String::new()),
                BinlogAt::Gtid(g) => (String::new(), 0, g.clone()),
            };
            pb::BinlogOperation {
                id: op.id,
                op: op.kind.name().to_string(),
                binlog_name,
                binlog_pos,
                gtid,
                sqls: op.kind.sqls().to_vec(),
            }
        })
        .collect()
}

/// The commands a worker's heartbeat calls for (pure): a current subtask
/// report listing held operations done.
pub fn commands_for_reports(
    state: &ClusterState,
    worker: &str,
    sources: &[pb::SourceReport],
) -> Vec<Command> {
    super::reports::current(state, worker, sources)
        .filter_map(|(source, sub)| {
            let ids: Vec<u64> = state
                .binlog_ops_of(&sub.task, source)
                .iter()
                .map(|op| op.id)
                .filter(|id| sub.binlog_ops_done.contains(id))
                .collect();
            (!ids.is_empty()).then(|| Command::BinlogOpsDone {
                task: sub.task.clone(),
                source: source.to_string(),
                ids,
            })
        })
        .collect()
}

/// Proposes what `sources` (one worker's heartbeat) call for.
pub async fn apply_reports(node: &Node, worker: &str, sources: &[pb::SourceReport]) {
    let commands = commands_for_reports(&node.state().state, worker, sources);
    for command in commands {
        match node.write(command.clone()).await {
            Ok(_) => tracing::info!(%worker, ?command, "binlog operations done"),
            Err(e) => {
                tracing::warn!(%worker, ?command, error = %e, "binlog operations done, not recorded yet")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u32) -> BinlogAt {
        BinlogAt::File {
            name: "mysql-bin.000001".into(),
            pos,
        }
    }

    #[test]
    fn the_position_is_the_users_or_the_paused_events() {
        let paused = PausedAt {
            at: at(900),
            on_statement: true,
            paused: true,
        };
        assert_eq!(position_for("s1", None, Some(&paused)), Ok(at(900)));
        assert_eq!(position_for("s1", Some(&at(4)), Some(&paused)), Ok(at(4)));
        assert_eq!(
            position_for("s1", None, None),
            Err("source 's1' has no error".into())
        );
        let rows = PausedAt {
            on_statement: false,
            ..paused
        };
        assert_eq!(position_for("s1", None, Some(&rows)), Err(ONLY_DDL.into()));
        assert_eq!(position_for("s1", None, Some(&rows)), Err(ONLY_DDL.into()));
    }

    #[test]
    fn a_report_gives_the_paused_event() {
        let mut report = pb::SubtaskReport {
            stage: pb::Stage::Paused as i32,
            error_start: Some(pb::Checkpoint {
                binlog_name: "mysql-bin.000001".into(),
                binlog_pos: 900,
                binlog_gtid: String::new(),
            }),
            error_on_statement: true,
            ..Default::default()
        };
        assert_eq!(PausedAt::from_report(&report), None, "no error");
        report.result = Some(pb::ProcessResult::default());
        assert_eq!(
            PausedAt::from_report(&report),
            Some(PausedAt {
                at: at(900),
                on_statement: true,
                paused: true
            })
        );
    }
}
