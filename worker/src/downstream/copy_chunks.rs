//! `<task>_copy_chunk`: the full copy's plan and progress, per source.
//!
//! The plan (every table's key-range chunks) is written once, in one fenced
//! transaction, before any row is copied; a resumed copy reads it back, so
//! every worker copies the same chunks whatever its own snapshot would have
//! planned. A chunk's done-mark (rows, bytes, and the binlog position of the
//! snapshot it was read in) commits in the transaction that writes its rows.

use mysql_async::prelude::Queryable;
use mysql_async::Transaction;

use super::{DownstreamError, MetaTables, MySqlDownstream, Position};

/// One chunk of the plan as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub schema: String,
    pub table: String,
    pub index: u32,
    pub target_schema: String,
    pub target_table: String,
    /// The integer key the chunk ranges over; `None`: the whole table.
    pub key_column: Option<String>,
    pub lower: Option<i128>,
    pub upper: Option<i128>,
    /// The table's estimated rows, divided over its chunks.
    pub estimate_rows: u64,
    /// Set once the chunk's rows committed.
    pub done: Option<ChunkDone>,
}

/// What a finished chunk recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDone {
    pub rows: u64,
    pub bytes: u64,
    /// The binlog position of the snapshot the rows were read in.
    pub position: Position,
}

pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            source_id VARCHAR(32) NOT NULL,
            cp_schema VARCHAR(128) NOT NULL,
            cp_table VARCHAR(128) NOT NULL,
            chunk_index INT UNSIGNED NOT NULL,
            target_schema VARCHAR(128) NOT NULL,
            target_table VARCHAR(128) NOT NULL,
            key_column VARCHAR(128) NULL,
            lower_bound VARCHAR(48) NULL,
            upper_bound VARCHAR(48) NULL,
            estimate_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
            done TINYINT NOT NULL DEFAULT 0,
            copied_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
            copied_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
            binlog_name VARCHAR(128) NOT NULL DEFAULT '',
            binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
            binlog_gtid TEXT,
            epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            PRIMARY KEY (source_id, cp_schema, cp_table, chunk_index)
        )"
    )
}

type ChunkRow = (
    String,
    String,
    u32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    u64,
    u8,
    u64,
    u64,
);

fn bound(addr: &str, text: Option<String>) -> Result<Option<i128>, DownstreamError> {
    text.map(|t| {
        t.parse::<i128>().map_err(|_| DownstreamError::Unexpected {
            addr: addr.to_string(),
            what: format!("chunk bound {t:?} in the copy plan is not an integer"),
        })
    })
    .transpose()
}

impl MySqlDownstream {
    /// The stored plan of `source`'s copy, in table and chunk order; empty
    /// when no plan was written yet.
    pub async fn copy_plan(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<Vec<StoredChunk>, DownstreamError> {
        let table = meta.table("copy_chunk")?;
        let mut conn = self.conn().await?;
        let rows: Vec<ChunkRow> = conn
            .exec(
                format!(
                    "SELECT cp_schema, cp_table, chunk_index, target_schema, target_table, key_column, \
                     lower_bound, upper_bound, estimate_rows, done, copied_rows, copied_bytes \
                     FROM {table} WHERE source_id = ? ORDER BY cp_schema, cp_table, chunk_index"
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the copy plan"))?;
        let positions: Vec<(String, String, u32, String, u32, Option<String>)> = conn
            .exec(
                format!(
                    "SELECT cp_schema, cp_table, chunk_index, binlog_name, binlog_pos, binlog_gtid \
                     FROM {table} WHERE source_id = ? AND done = 1 \
                     ORDER BY cp_schema, cp_table, chunk_index"
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the copy plan"))?;
        let mut positions = positions.into_iter().peekable();
        let mut plan = Vec::with_capacity(rows.len());
        for row in rows {
            let (schema, tbl, index, target_schema, target_table, key_column, lower, upper) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
            let (estimate_rows, done, copied_rows, copied_bytes) = (row.8, row.9, row.10, row.11);
            let done = if done == 1 {
                let position = positions
                    .next_if(|p| p.0 == schema && p.1 == tbl && p.2 == index)
                    .map(|p| Position {
                        binlog_name: p.3,
                        binlog_pos: p.4,
                        binlog_gtid: p.5.unwrap_or_default(),
                    })
                    .unwrap_or_default();
                Some(ChunkDone {
                    rows: copied_rows,
                    bytes: copied_bytes,
                    position,
                })
            } else {
                None
            };
            plan.push(StoredChunk {
                lower: bound(self.addr(), lower)?,
                upper: bound(self.addr(), upper)?,
                schema,
                table: tbl,
                index,
                target_schema,
                target_table,
                key_column,
                estimate_rows,
                done,
            });
        }
        Ok(plan)
    }

    /// Writes the plan inside `tx` (a fenced transaction).
    pub async fn save_copy_plan(
        &self,
        tx: &mut Transaction<'static>,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        plan: &[StoredChunk],
    ) -> Result<(), DownstreamError> {
        let table = meta.table("copy_chunk")?;
        tx.exec_batch(
            format!(
                "INSERT INTO {table} (source_id, cp_schema, cp_table, chunk_index, target_schema, \
                 target_table, key_column, lower_bound, upper_bound, estimate_rows, epoch) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            plan.iter().map(|c| {
                mysql_async::Params::Positional(vec![
                    source.into(),
                    c.schema.as_str().into(),
                    c.table.as_str().into(),
                    c.index.into(),
                    c.target_schema.as_str().into(),
                    c.target_table.as_str().into(),
                    c.key_column.as_deref().into(),
                    c.lower.map(|b| b.to_string()).into(),
                    c.upper.map(|b| b.to_string()).into(),
                    c.estimate_rows.into(),
                    epoch.into(),
                ])
            }),
        )
        .await
        .map_err(self.error("writing the copy plan"))
    }

    /// Marks a chunk done inside `tx`, the transaction that wrote its rows.
    #[allow(clippy::too_many_arguments)]
    pub async fn mark_chunk_done(
        &self,
        tx: &mut Transaction<'static>,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        chunk: &StoredChunk,
        done: &ChunkDone,
    ) -> Result<(), DownstreamError> {
        let table = meta.table("copy_chunk")?;
        tx.exec_drop(
            format!(
                "UPDATE {table} SET done = 1, copied_rows = ?, copied_bytes = ?, binlog_name = ?, \
                 binlog_pos = ?, binlog_gtid = ?, epoch = ? \
                 WHERE source_id = ? AND cp_schema = ? AND cp_table = ? AND chunk_index = ?"
            ),
            mysql_async::Params::Positional(vec![
                done.rows.into(),
                done.bytes.into(),
                done.position.binlog_name.as_str().into(),
                done.position.binlog_pos.into(),
                done.position.binlog_gtid.as_str().into(),
                epoch.into(),
                source.into(),
                chunk.schema.as_str().into(),
                chunk.table.as_str().into(),
                chunk.index.into(),
            ]),
        )
        .await
        .map_err(self.error("marking the chunk done"))
    }
}
