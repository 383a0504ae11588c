//! The snapshot port on a MySQL / MariaDB server: snapshots are
//! `REPEATABLE READ` transactions ([`super::open_snapshots`]), reads are
//! the queries of [`super::discover`], and a chunk is one `SELECT` of its
//! key range streamed with the text protocol.
//!
//! Every snapshot session sets its own `sql_mode` when it connects, before
//! its snapshot starts ([`read_session_setup`]), so the upstream's global
//! mode (`ANSI_QUOTES`, ...) does not change what the copy reads.

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, QueryResult, TextProtocol, Value};

use super::discover;
use super::rows;
use super::snapshot::{open_snapshots, Snapshot};
use crate::position::Position;
use crate::upstream::{
    BaseTable, ChunkRows, Column, CopyCall, CopySnapshot, CopySource, IndexColumn, KeyRange,
    SchemaSeed, TextRow, UpstreamError,
};
use dm_proto::sql::{qualified, quote};
use dm_rules::TaskRules;

/// The `sql_mode` of the copy's upstream sessions: none of the modes that
/// change how definitions are printed or how values are read back (e.g.
/// `PAD_CHAR_TO_FULL_LENGTH`).
pub const READ_SQL_MODE: &str = "";

/// The statements that set up a copy session for reading definitions
/// ([`READ_SQL_MODE`], names always quoted), run when it opens, before its
/// snapshot starts.
pub fn read_session_setup() -> [String; 2] {
    [
        format!("SET SESSION sql_mode = '{READ_SQL_MODE}'"),
        "SET SESSION sql_quote_show_create = 1".to_string(),
    ]
}

/// `opts` with [`read_session_setup`] after their own setup.
pub fn reading_opts(opts: &Opts) -> Opts {
    let setup: Vec<String> = opts
        .setup()
        .iter()
        .cloned()
        .chain(read_session_setup())
        .collect();
    OptsBuilder::from_opts(opts.clone()).setup(setup).into()
}

/// A server's snapshots; sessions in UTC and utf8mb4.
#[derive(Debug, Clone)]
pub struct MySqlCopySource {
    pub opts: Opts,
}

impl CopySource for MySqlCopySource {
    fn open_snapshots(&self, count: usize) -> CopyCall<'_, Vec<Box<dyn CopySnapshot>>> {
        Box::pin(async move {
            let group = open_snapshots(reading_opts(&self.opts), count).await?;
            Ok(group
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn CopySnapshot>)
                .collect())
        })
    }
}

impl CopySnapshot for Snapshot {
    fn position(&self) -> &Position {
        &self.position
    }

    fn list_tables<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, Vec<BaseTable>> {
        Box::pin(discover::list_tables(&mut self.conn, rules))
    }

    fn list_schemas<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, Vec<String>> {
        Box::pin(discover::list_schemas(&mut self.conn, rules))
    }

    fn index_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<IndexColumn>> {
        Box::pin(discover::index_columns(&mut self.conn, schema, table))
    }

    fn key_range<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
        key: &'a str,
    ) -> CopyCall<'a, Option<(i128, i128)>> {
        Box::pin(discover::key_range(&mut self.conn, schema, table, key))
    }

    fn count_rows<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
        row_filter: &'a str,
    ) -> CopyCall<'a, u64> {
        Box::pin(async move {
            let count: Option<u64> = self
                .conn
                .query_first(format!(
                    "SELECT COUNT(*) FROM {} WHERE ({row_filter})",
                    qualified(schema, table)
                ))
                .await
                .map_err(UpstreamError::query(format!(
                    "counting the rows of {} where {row_filter}",
                    qualified(schema, table)
                )))?;
            Ok(count.unwrap_or(0))
        })
    }

    fn show_create<'a>(&'a mut self, schema: &'a str, table: &'a str) -> CopyCall<'a, String> {
        Box::pin(discover::show_create(&mut self.conn, schema, table))
    }

    fn schema_seed<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, SchemaSeed> {
        Box::pin(discover::schema_seed(&mut self.conn, rules))
    }

    fn writable_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<String>> {
        Box::pin(discover::writable_columns(&mut self.conn, schema, table))
    }

    fn chunk_rows<'a>(
        &'a mut self,
        chunk: &'a KeyRange,
        columns: &'a [String],
    ) -> CopyCall<'a, Box<dyn ChunkRows + 'a>> {
        Box::pin(async move {
            let select = format!(
                "SELECT {} FROM {}{}",
                columns
                    .iter()
                    .map(|c| quote(c))
                    .collect::<Vec<_>>()
                    .join(","),
                qualified(&chunk.schema, &chunk.table),
                predicate(chunk)
            );
            let result = self
                .conn
                .query_iter(select)
                .await
                .map_err(chunk_error(chunk))?;
            let columns: Vec<Column> = result.columns_ref().iter().map(rows::column).collect();
            Ok(Box::new(MySqlChunkRows {
                result: Some(result),
                columns,
                chunk,
            }) as Box<dyn ChunkRows + 'a>)
        })
    }
}

fn chunk_error(chunk: &KeyRange) -> impl FnOnce(mysql_async::Error) -> UpstreamError {
    UpstreamError::query(format!(
        "reading chunk {} of {}",
        chunk.index,
        qualified(&chunk.schema, &chunk.table)
    ))
}

/// The `WHERE` clause that selects `chunk`'s rows (empty for a whole
/// table): its key range, and its row filter in parentheses.
pub fn predicate(chunk: &KeyRange) -> String {
    let mut conditions = Vec::new();
    if let Some(key) = &chunk.key_column {
        let key = quote(key);
        if let Some(l) = chunk.lower {
            conditions.push(format!("{key} >= {l}"));
        }
        if let Some(u) = chunk.upper {
            conditions.push(format!("{key} < {u}"));
        }
    }
    if let Some(filter) = &chunk.row_filter {
        conditions.push(format!("({filter})"));
    }
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// A chunk's `SELECT`, read row by row.
struct MySqlChunkRows<'a> {
    /// `None` once drained.
    result: Option<QueryResult<'a, 'static, TextProtocol>>,
    columns: Vec<Column>,
    chunk: &'a KeyRange,
}

impl ChunkRows for MySqlChunkRows<'_> {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn next_row(&mut self) -> CopyCall<'_, Option<TextRow>> {
        Box::pin(async move {
            let Some(result) = self.result.as_mut() else {
                return Ok(None);
            };
            let Some(row) = result.next().await.map_err(chunk_error(self.chunk))? else {
                return Ok(None);
            };
            row.unwrap_raw()
                .into_iter()
                .map(|value| match value {
                    Some(Value::Bytes(b)) => Ok(Some(b)),
                    Some(Value::NULL) | None => Ok(None),
                    Some(other) => Err(UpstreamError::Data(format!(
                        "unexpected value {other:?} in a text result"
                    ))),
                })
                .collect::<Result<TextRow, _>>()
                .map(Some)
        })
    }

    fn drain(&mut self) -> CopyCall<'_, ()> {
        Box::pin(async move {
            match self.result.take() {
                Some(result) => result.drop_result().await.map_err(chunk_error(self.chunk)),
                None => Ok(()),
            }
        })
    }
}
