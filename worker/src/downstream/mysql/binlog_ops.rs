//! `<task>_binlog_op`: per source, how many statements of each `binlog
//! replace` / `inject` operation ran downstream. A statement and its mark
//! cannot share a transaction (a DDL commits on its own), so the mark is
//! written, fenced like every other write of a source, right after the
//! statement and before the checkpoints move past the event: a run that
//! replays the event finds it and runs only the statements not marked.

use mysql_async::prelude::Queryable;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{Commit, DownstreamError, MetaTables};

pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            source_id VARCHAR(32) NOT NULL,
            op_id BIGINT UNSIGNED NOT NULL,
            statements_done INT UNSIGNED NOT NULL,
            epoch BIGINT UNSIGNED NOT NULL,
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            PRIMARY KEY (source_id, op_id)
        ){}",
        super::meta_table_options()
    )
}

impl MySqlDownstream {
    /// How many statements of operation `op_id` ran (0: none).
    pub async fn binlog_op_done(
        &self,
        meta: &MetaTables,
        source: &str,
        op_id: u64,
    ) -> Result<u32, DownstreamError> {
        let table = meta.table("binlog_op")?;
        let mut conn = self.conn().await?;
        let done: Option<u32> = conn
            .exec_first(
                format!("SELECT statements_done FROM {table} WHERE source_id = ? AND op_id = ?"),
                (source, op_id),
            )
            .await
            .map_err(self.error("reading the binlog operation marks"))?;
        Ok(done.unwrap_or(0))
    }

    /// Marks `statements` statements of operation `op_id` run, fenced by
    /// `epoch`.
    pub async fn save_binlog_op_done(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        op_id: u64,
        statements: u32,
    ) -> Result<Commit, DownstreamError> {
        let table = meta.table("binlog_op")?;
        let mut tx = match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        tx.exec_drop(
            format!(
                "INSERT INTO {table} (source_id, op_id, statements_done, epoch) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE statements_done = VALUES(statements_done), epoch = VALUES(epoch)"
            ),
            (source, op_id, statements, epoch),
        )
        .await
        .map_err(self.error("recording a binlog operation mark"))?;
        tx.commit()
            .await
            .map_err(self.error("committing a binlog operation mark"))?;
        Ok(Commit::Committed)
    }
}
