//! `<task>_schema`: per source, the schema tracker's stored states (see
//! `downstream::StoredSchema`), one row each, numbered in the order they
//! were written. The worker keeps only the state its checkpoints need and
//! the ones after it; `binlog-schema list` in dm-master reads the latest
//! row's `definitions`. Written in fenced transactions like every other
//! write of a source.

use mysql_async::prelude::Queryable;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{Commit, DownstreamError, MetaTables, StoredSchema};
use crate::position::Position;

pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            source_id VARCHAR(32) NOT NULL,
            binlog_name VARCHAR(128) NOT NULL DEFAULT '',
            binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
            binlog_gtid TEXT,
            applied_op BIGINT UNSIGNED NOT NULL DEFAULT 0,
            state LONGTEXT NOT NULL,
            epoch BIGINT UNSIGNED NOT NULL,
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            KEY (source_id, seq)
        ){}",
        super::meta_table_options()
    )
}

type Row = (u64, String, u32, Option<String>, u64, String);

impl MySqlDownstream {
    /// The source's stored states, oldest first.
    pub async fn schema_states(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<Vec<StoredSchema>, DownstreamError> {
        let table = meta.table("schema")?;
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .exec(
                format!(
                    "SELECT seq, binlog_name, binlog_pos, binlog_gtid, applied_op, state \
                     FROM {table} WHERE source_id = ? ORDER BY seq"
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the tracked schemas"))?;
        Ok(rows
            .into_iter()
            .map(|(seq, name, pos, gtid, applied_op, state)| StoredSchema {
                seq,
                position: Position {
                    binlog_name: name,
                    binlog_pos: pos,
                    binlog_gtid: gtid.unwrap_or_default(),
                },
                applied_op,
                state,
            })
            .collect())
    }

    /// Stores `state` and keeps the `keep` latest states, fenced by
    /// `epoch`.
    pub async fn save_schema_state(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        state: &StoredSchema,
        keep: usize,
    ) -> Result<Commit, DownstreamError> {
        let table = meta.table("schema")?;
        let mut tx = match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        let p = &state.position;
        tx.exec_drop(
            format!(
                "INSERT INTO {table} (source_id, binlog_name, binlog_pos, binlog_gtid, applied_op, state, epoch) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                source,
                &p.binlog_name,
                p.binlog_pos,
                &p.binlog_gtid,
                state.applied_op,
                &state.state,
                epoch,
            ),
        )
        .await
        .map_err(self.error("recording the tracked schemas"))?;
        // The newest `keep` stay (seq grows with every insert).
        let newest: Vec<u64> = tx
            .exec(
                format!(
                    "SELECT seq FROM {table} WHERE source_id = ? ORDER BY seq DESC LIMIT {}",
                    keep.max(1)
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the tracked schema states"))?;
        if let Some(oldest_kept) = newest.last() {
            tx.exec_drop(
                format!("DELETE FROM {table} WHERE source_id = ? AND seq < ?"),
                (source, oldest_kept),
            )
            .await
            .map_err(self.error("dropping old tracked schema states"))?;
        }
        tx.commit()
            .await
            .map_err(self.error("committing the tracked schemas"))?;
        Ok(Commit::Committed)
    }
}
