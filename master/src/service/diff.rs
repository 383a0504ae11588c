//! check-diff: the task's upstream and downstream tables compared (see
//! [`crate::diff`]).
//!
//! Unlike the other commands, a diff is served by whichever master receives
//! it, not forwarded to the leader: it reads the users' databases for as
//! long as their tables take (minutes for large ones), far beyond the
//! timeout of a request between masters, and it changes nothing. The leader
//! answers from a linearizable read; a follower from the state it has
//! applied, which names the same task and sources unless they changed in
//! the last moments.

use std::collections::BTreeMap;
use std::sync::Arc;

use dm_proto::config::TaskConfig;
use dm_proto::pb;

use crate::diff::{DiffLimits, DiffReport};
use crate::error::MasterError;
use crate::node::Node;
use crate::raft::AppliedState;

/// The state to read the task from: linearizable on the leader, as applied
/// here on a follower.
async fn state(node: &Node) -> Result<Arc<AppliedState>, MasterError> {
    match node.leader() {
        Some((id, _)) if id == node.id => node.read().await,
        _ => Ok(node.state()),
    }
}

pub async fn check_diff(
    node: &Node,
    req: pb::CheckDiffRequest,
) -> Result<pb::CheckDiffResponse, MasterError> {
    let fail = |msg: String| pb::CheckDiffResponse {
        result: false,
        msg,
        task: req.task.clone(),
        ..pb::CheckDiffResponse::default()
    };
    if req.task.is_empty() {
        return Ok(fail("give the name of a task".into()));
    }
    let applied = state(node).await?;
    if let Some(why) = super::key_check::mismatch(&applied.state) {
        return Ok(fail(why.to_string()));
    }
    let Some(entry) = applied.state.tasks.get(&req.task) else {
        return Ok(fail(format!(
            "task {} does not exist; `query-status` lists the tasks",
            req.task
        )));
    };
    let task = match TaskConfig::parse(&req.task, &entry.config_yaml) {
        Ok(task) => task,
        Err(e) => return Ok(fail(format!("the stored task {}: {e}", req.task))),
    };
    let mut sources = BTreeMap::new();
    for instance in &task.mysql_instances {
        let Some(source) = applied.state.sources.get(&instance.source_id) else {
            return Ok(fail(format!(
                "source {} of task {} does not exist",
                instance.source_id, task.name
            )));
        };
        sources.insert(instance.source_id.clone(), source.config.clone());
    }
    let limits = DiffLimits::new(req.chunk_rows, req.max_rows);
    Ok(
        match node.databases.check_diff(&task, &sources, limits).await {
            Ok(report) => {
                count_tables(&task.name, &report);
                response(&task.name, &report)
            }
            Err(e) => fail(format!("task {}: {e}", task.name)),
        },
    )
}

/// `dm_master_check_diff_tables_total`: a table is equal when every row
/// matched; one that differs or could not be compared is different.
fn count_tables(task: &str, report: &DiffReport) {
    let equal = report
        .tables
        .iter()
        .filter(|t| t.rows_differing == 0 && t.chunks_differing == 0 && t.error.is_none())
        .count();
    let different = report.tables.len() - equal;
    crate::metrics::check_diff_tables(task, equal as u64, different as u64);
}

/// What the answer says when the task copies only some rows.
const FILTERED: &str = "the task's tables are filtered by mydumpers.where: only the rows that meet it are compared, upstream and downstream (see each table's filter)";

fn response(task: &str, report: &DiffReport) -> pb::CheckDiffResponse {
    pb::CheckDiffResponse {
        result: true,
        msg: if report.filtered() {
            FILTERED.to_string()
        } else {
            String::new()
        },
        task: task.to_string(),
        rows_compared: report.rows_compared(),
        rows_differing: report.rows_differing(),
        chunks_compared: report.chunks_compared(),
        chunks_differing: report.chunks_differing(),
        tables: report
            .tables
            .iter()
            .map(|t| pb::TableDiff {
                target: t.target.clone(),
                sources: t.sources.clone(),
                rows_compared: t.rows_compared,
                rows_differing: t.rows_differing,
                chunks_compared: t.chunks_compared,
                chunks_differing: t.chunks_differing,
                error: t.error.clone().unwrap_or_default(),
                filter: t.filter.clone().unwrap_or_default(),
                differences: t
                    .differences
                    .iter()
                    .map(|d| pb::RowDifference {
                        kind: d.kind.as_str().to_string(),
                        key: d.key.clone(),
                        upstream: d.upstream.clone(),
                        downstream: d.downstream.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}
