//! Pessimistic shard DDL, the worker's half (the lock itself is Raft state
//! in the masters, see the master's `state::shard_ddl`).
//!
//! In a sharded merge (`shard-mode: pessimistic`, or `is-sharding: true`) a
//! DDL that changes a merged table is not applied when one source reaches
//! it: the source's sync stops right there (everything before it is
//! committed, nothing after it is read) and reports the DDL in every
//! heartbeat. The leader answers, once every source of the task reached it,
//! *execute* to the lock's owner and, once the owner is done, *skip* to the
//! others. Executing or skipping ends with every lane's checkpoint past the
//! DDL; the source then reports `done` and reads on.
//!
//! Crash safety: the position is the DDL event's end, the same for whoever
//! runs the source, so a new worker re-reads the DDL and takes over the
//! role. An owner records its intent (with the table definition before the
//! change) before running the DDL, so a successor can tell from the
//! downstream whether it already ran (see `downstream::shard_intents`). A
//! source whose checkpoint is already past a DDL the leader still asks
//! about (it finished, then died before reporting) reports it done.
//!
//! In a sharded merge, `DROP TABLE`, `DROP DATABASE` and `TRUNCATE` of a
//! shard are not applied (they would drop every shard's rows), as in DM.

use dm_proto::pb;
use tokio::sync::watch;

use super::ddl::{DdlError, DdlPlan, PlannedDdl};
use super::progress::Progress;
use super::{SyncError, SyncJob};
use crate::downstream::{Commit, Position, ShardIntent};
use dm_rules::EventKind;

/// The leader's current operation for this subtask (from heartbeats).
pub type Ops = watch::Receiver<Option<pb::ShardDdlOperation>>;

/// A DDL this source must coordinate with the task's other sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardDdl {
    /// The merged (downstream) table.
    pub schema: String,
    pub table: String,
    /// The routed statements.
    pub ddls: Vec<String>,
    /// The end of the DDL event in this source's binlog.
    pub at: Position,
}

/// What a DDL in a sharded merge becomes (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sharded {
    /// Applied at once (`CREATE TABLE` / `CREATE DATABASE`: idempotent).
    Direct(Vec<String>),
    /// Coordinated through a lock on this table.
    Coordinate {
        schema: String,
        table: String,
        ddls: Vec<String>,
        /// The upstream (shard) table the DDL changes.
        upstream: (String, String),
    },
    Skip(&'static str),
}

/// Sorts a routed DDL of a sharded merge.
pub fn classify(plan: DdlPlan) -> Result<Sharded, DdlError> {
    let statements = match plan {
        DdlPlan::Skip(why) => return Ok(Sharded::Skip(why)),
        DdlPlan::Apply(s) => s,
    };
    let coordinated = |p: &PlannedDdl| {
        matches!(
            p.kind,
            EventKind::AlterTable | EventKind::CreateIndex | EventKind::DropIndex
        )
    };
    let dropping = |p: &PlannedDdl| {
        matches!(
            p.kind,
            EventKind::DropTable | EventKind::DropDatabase | EventKind::TruncateTable
        )
    };
    if statements.iter().all(dropping) {
        return Ok(Sharded::Skip(
            "a sharded merge does not drop or truncate the merged table for one shard",
        ));
    }
    if statements.iter().any(|p| p.kind == EventKind::RenameTable) {
        return Err(DdlError::Sharded(
            "RENAME TABLE of a shard in a sharded merge is not supported: rename the merged table by hand, or stop the task",
        ));
    }
    if !statements.iter().any(coordinated) {
        return Ok(Sharded::Direct(
            statements
                .into_iter()
                .filter(|p| !dropping(p))
                .map(|p| p.sql)
                .collect(),
        ));
    }
    let mut tables = statements
        .iter()
        .filter_map(|p| p.table.clone().zip(p.source_table.clone()));
    let Some(((schema, table), upstream)) = tables.next() else {
        return Err(DdlError::Sharded(
            "a shard DDL must name the table it changes",
        ));
    };
    if tables.any(|(t, u)| t != (schema.clone(), table.clone()) || u != upstream)
        || !statements.iter().all(coordinated)
    {
        return Err(DdlError::Sharded(
            "a shard DDL must change one merged table only; split the statement per table",
        ));
    }
    Ok(Sharded::Coordinate {
        schema,
        table,
        ddls: statements.into_iter().map(|p| p.sql).collect(),
        upstream,
    })
}

fn same_position(op: &pb::ShardDdlOperation, at: &Position) -> bool {
    op.position
        .as_ref()
        .is_some_and(|p| p.binlog_name == at.binlog_name && p.binlog_pos == at.binlog_pos)
}

fn info(ddl: &ShardDdl, lock_id: &str, done: bool) -> pb::ShardDdlInfo {
    pb::ShardDdlInfo {
        downstream_schema: ddl.schema.clone(),
        downstream_table: ddl.table.clone(),
        ddls: ddl.ddls.clone(),
        position: Some(pb::Checkpoint {
            binlog_name: ddl.at.binlog_name.clone(),
            binlog_pos: ddl.at.binlog_pos,
            binlog_gtid: ddl.at.binlog_gtid.clone(),
        }),
        done,
        lock_id: lock_id.to_string(),
    }
}

use dm_proto::shard_ddl_lock_id as lock_id;

/// The source reached `ddl`: report it in every heartbeat from now on.
pub fn arrived(progress: &Progress, task: &str, ddl: &ShardDdl) {
    let id = lock_id(task, &ddl.schema, &ddl.table);
    tracing::info!(%task, lock = %id, ddls = ?ddl.ddls, at = %ddl.at, "waiting at a shard DDL");
    progress.shard_ddl(info(ddl, &id, false));
}

/// Waits for the leader's operation on the DDL at `at`. A conflict (this
/// source's DDLs differ from the lock's) is an error that pauses the task.
pub async fn wait_op(ops: &mut Ops, at: &Position) -> Result<pb::ShardDdlOperation, SyncError> {
    loop {
        let current = ops.borrow_and_update().clone();
        if let Some(op) = current.filter(|op| same_position(op, at)) {
            if !op.error.is_empty() {
                return Err(SyncError::ShardDdl(op.error));
            }
            return Ok(op);
        }
        if ops.changed().await.is_err() {
            // The supervisor dropped the subtask: it is being stopped.
            std::future::pending::<()>().await;
        }
    }
}

/// An operation about a DDL this source already passed (its checkpoint is
/// beyond it): the source finished it before a restart and reports it done.
pub fn passed(ops: &Ops, progress: &Progress) {
    let Some(op) = ops.borrow().clone() else {
        return;
    };
    let Some(at) = op.position.as_ref().map(|p| Position {
        binlog_name: p.binlog_name.clone(),
        binlog_pos: p.binlog_pos,
        binlog_gtid: p.binlog_gtid.clone(),
    }) else {
        return;
    };
    if !op.error.is_empty() {
        return;
    }
    let info = pb::ShardDdlInfo {
        downstream_schema: String::new(),
        downstream_table: String::new(),
        ddls: op.ddls.clone(),
        position: op.position.clone(),
        done: true,
        lock_id: op.lock_id.clone(),
    };
    if progress.shard_ddl_passed(&at, info) {
        tracing::info!(lock = %op.lock_id, %at, "the shard DDL was passed before a restart: reporting it done");
    }
}

/// Runs the lock's DDL downstream as its owner, unless a previous owner of
/// this source already did (see the module docs); `replaying`: see
/// `ddl::execute`.
pub async fn execute_once(
    job: &SyncJob,
    ddl: &ShardDdl,
    lock_id: &str,
    replaying: bool,
) -> Result<Commit, SyncError> {
    let now = job
        .downstream
        .show_create_table(&ddl.schema, &ddl.table)
        .await?;
    let recorded = job.downstream.shard_intent(&job.meta, &job.source).await?;
    if let Some(intent) = recorded.filter(|i| {
        i.lock_id == lock_id
            && i.binlog_name == ddl.at.binlog_name
            && i.binlog_pos == ddl.at.binlog_pos
    }) {
        if intent.table_before != now {
            tracing::info!(lock = %lock_id, "the shard DDL already ran downstream (the table changed since it was recorded)");
            return Ok(Commit::Committed);
        }
    }
    let intent = ShardIntent {
        lock_id: lock_id.to_string(),
        binlog_name: ddl.at.binlog_name.clone(),
        binlog_pos: ddl.at.binlog_pos,
        table_before: now,
    };
    if let fenced @ Commit::Fenced { .. } = job
        .downstream
        .save_shard_intent(&job.meta, &job.source, job.epoch, &intent)
        .await?
    {
        return Ok(fenced);
    }
    super::ddl::execute(job, &ddl.ddls, replaying).await?;
    tracing::info!(lock = %lock_id, ddls = ?ddl.ddls, "shard DDL executed downstream");
    Ok(Commit::Committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(kind: EventKind, sql: &str, table: Option<(&str, &str)>) -> PlannedDdl {
        PlannedDdl {
            sql: sql.into(),
            kind,
            table: table.map(|(s, t)| (s.into(), t.into())),
            source_table: table.map(|(s, t)| (format!("{s}_1"), t.into())),
        }
    }

    #[test]
    fn ddls_of_a_sharded_merge_are_sorted() {
        let alter = planned(EventKind::AlterTable, "ALTER A", Some(("db", "t")));
        let index = planned(EventKind::CreateIndex, "CREATE INDEX", Some(("db", "t")));
        let other = planned(EventKind::AlterTable, "ALTER B", Some(("db", "u")));
        let create = planned(EventKind::CreateTable, "CREATE", Some(("db", "t")));
        let drop = planned(EventKind::DropTable, "DROP", Some(("db", "t")));
        let rename = planned(EventKind::RenameTable, "RENAME", Some(("db", "t")));
        assert_eq!(
            classify(DdlPlan::Apply(vec![alter.clone(), index])),
            Ok(Sharded::Coordinate {
                schema: "db".into(),
                table: "t".into(),
                ddls: vec!["ALTER A".into(), "CREATE INDEX".into()],
                upstream: ("db_1".into(), "t".into()),
            })
        );
        assert_eq!(
            classify(DdlPlan::Apply(vec![create])),
            Ok(Sharded::Direct(vec!["CREATE".into()]))
        );
        assert!(matches!(
            classify(DdlPlan::Apply(vec![drop])),
            Ok(Sharded::Skip(_))
        ));
        assert!(classify(DdlPlan::Apply(vec![alter.clone(), other])).is_err());
        assert!(classify(DdlPlan::Apply(vec![rename])).is_err());
        assert_eq!(
            classify(DdlPlan::Skip("filtered")),
            Ok(Sharded::Skip("filtered"))
        );
    }

    #[test]
    fn lock_ids_are_dms() {
        assert_eq!(lock_id("task", "db", "t"), "task-`db`.`t`");
    }
}
