//! `start-task --remove-meta`: drops the task's meta tables downstream
//! before the task starts, so it begins from scratch (a new copy plan, no
//! checkpoints). DM's own meta table names are dropped too, for tasks that
//! were run by DM before.
//!
//! Only a task that does not exist is started, so no worker is writing
//! these tables while they are dropped.

use dm_proto::config::TaskConfig;
use dm_proto::sql::quote;
use mysql_async::prelude::Queryable;

use crate::databases::DatabaseError;

/// Suffixes of the task's meta tables (`<task>_<suffix>`): ours, then DM's.
const SUFFIXES: &[&str] = &[
    "fence",
    "checkpoint",
    "copy_chunk",
    "shard_ddl",
    "shard_group",
    "schema",
    "binlog_op",
    "loader_checkpoint",
    "syncer_checkpoint",
    "syncer_sharding_meta",
    "onlineddl",
];

/// Drops the meta tables of `task` in its target database.
pub async fn remove_meta(task: &TaskConfig) -> Result<(), DatabaseError> {
    let target = &task.target_database;
    let addr = format!("{}:{}", target.host, target.port);
    let mut conn = crate::db_opts::connect(target, crate::db_opts::TARGET_DATABASE)
        .await
        .map_err(|error| DatabaseError::DownstreamUnreachable {
            addr: addr.clone(),
            error,
        })?;
    for suffix in SUFFIXES {
        let table = format!(
            "{}.{}",
            quote(&task.meta_schema),
            quote(&format!("{}_{suffix}", task.name))
        );
        conn.query_drop(format!("DROP TABLE IF EXISTS {table}"))
            .await
            .map_err(|error| DatabaseError::DropFailed {
                table: table.clone(),
                addr: addr.clone(),
                error,
            })?;
    }
    tracing::info!(task = %task.name, downstream = %addr, "meta tables removed (--remove-meta)");
    let _ = conn.disconnect().await;
    Ok(())
}
