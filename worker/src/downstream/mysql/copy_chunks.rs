//! `<task>_copy_chunk` on MySQL: the table holding the full copy's plan and
//! done-marks (see `downstream::chunks` for the protocol), the plan's
//! fenced save, and a chunk's fenced transaction ([`ChunkTx`]).

use mysql_async::prelude::Queryable;
use mysql_async::Transaction;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{
    Call, ChunkDone, ChunkTx, Commit, DownstreamError, MetaTables, OpenChunk, StoredChunk,
};
use crate::position::Position;
use crate::sql::qualified;

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
        ){}",
        super::meta_table_options()
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

    /// Writes the plan in one transaction fenced by `epoch` (an empty plan
    /// writes nothing, but still checks the fence).
    pub async fn save_copy_plan(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        plan: &[StoredChunk],
    ) -> Result<Commit, DownstreamError> {
        let mut tx = match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        if !plan.is_empty() {
            self.write_copy_plan(&mut tx, meta, source, epoch, plan)
                .await?;
        }
        tx.commit()
            .await
            .map_err(self.error("committing the copy plan"))?;
        Ok(Commit::Committed)
    }

    /// Opens the fenced transaction of `chunk`.
    pub async fn begin_chunk(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        chunk: &StoredChunk,
    ) -> Result<OpenChunk, DownstreamError> {
        Ok(match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => OpenChunk::Open(Box::new(MySqlChunkTx {
                tx,
                downstream: self.clone(),
                meta: meta.clone(),
                source: source.to_string(),
                epoch,
                chunk: chunk.clone(),
            })),
            FencedTx::Fenced { by_epoch } => OpenChunk::Fenced { by_epoch },
        })
    }

    /// Writes the plan inside `tx` (a fenced transaction).
    async fn write_copy_plan(
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
    async fn mark_chunk_done(
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

/// A chunk's transaction on a server: the fence row is held (shared) from
/// the start, so a claim by a newer epoch kills it rather than let it
/// commit.
struct MySqlChunkTx {
    tx: Transaction<'static>,
    downstream: MySqlDownstream,
    meta: MetaTables,
    source: String,
    epoch: u64,
    chunk: StoredChunk,
}

impl ChunkTx for MySqlChunkTx {
    fn write(&mut self, statement: Vec<u8>) -> Call<'_, ()> {
        Box::pin(async move {
            let what = format!(
                "writing chunk {} of {}",
                self.chunk.index,
                qualified(&self.chunk.schema, &self.chunk.table)
            );
            self.tx
                .query_drop(statement)
                .await
                .map_err(self.downstream.error(what))
        })
    }

    fn commit(self: Box<Self>, done: ChunkDone) -> Call<'static, Commit> {
        Box::pin(async move {
            let MySqlChunkTx {
                mut tx,
                downstream,
                meta,
                source,
                epoch,
                chunk,
            } = *self;
            downstream
                .mark_chunk_done(&mut tx, &meta, &source, epoch, &chunk, &done)
                .await?;
            tx.commit()
                .await
                .map_err(downstream.error("committing a chunk"))?;
            Ok(Commit::Committed)
        })
    }
}
