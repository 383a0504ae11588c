//! The copy's reads on a MySQL / MariaDB server: snapshots are
//! `REPEATABLE READ` transactions ([`crate::upstream::open_snapshots`]),
//! reads are the queries of [`super::discover`], and a chunk is one
//! `SELECT` of its key range streamed with the text protocol.
//!
//! Every snapshot session sets its own `sql_mode` when it connects, before
//! its snapshot starts ([`super::definition::read_session_setup`]), so the
//! upstream's global mode (`ANSI_QUOTES`, ...) does not change what the
//! copy reads.

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, QueryResult, TextProtocol, Value};

use super::definition;
use super::discover::{self, Candidate};
use super::plan::{self, IndexColumn};
use super::source::{ChunkRows, CopyCall, CopySnapshot, CopySource, TextRow};
use super::sql::{self, qualified, Literal};
use super::CopyError;
use crate::downstream::{Position, StoredChunk};
use crate::upstream::{open_snapshots, Snapshot};
use dm_rules::TaskRules;

/// A server's snapshots; sessions in UTC and utf8mb4.
#[derive(Debug, Clone)]
pub struct MySqlCopySource {
    pub opts: Opts,
}

impl CopySource for MySqlCopySource {
    fn open_snapshots(&self, count: usize) -> CopyCall<'_, Vec<Box<dyn CopySnapshot>>> {
        Box::pin(async move {
            let setup: Vec<String> = self
                .opts
                .setup()
                .iter()
                .cloned()
                .chain(definition::read_session_setup())
                .collect();
            let opts = OptsBuilder::from_opts(self.opts.clone()).setup(setup);
            let group = open_snapshots(opts.into(), count).await?;
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

    fn list_tables<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, Vec<Candidate>> {
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

    fn show_create<'a>(&'a mut self, schema: &'a str, table: &'a str) -> CopyCall<'a, String> {
        Box::pin(discover::show_create(&mut self.conn, schema, table))
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
        chunk: &'a StoredChunk,
        columns: &'a [String],
    ) -> CopyCall<'a, Box<dyn ChunkRows + 'a>> {
        Box::pin(async move {
            let select = format!(
                "SELECT {} FROM {}{}",
                columns
                    .iter()
                    .map(|c| sql::quote(c))
                    .collect::<Vec<_>>()
                    .join(","),
                qualified(&chunk.schema, &chunk.table),
                plan::predicate(chunk)
            );
            let result = self
                .conn
                .query_iter(select)
                .await
                .map_err(chunk_error(chunk))?;
            let kinds: Vec<Literal> = result.columns_ref().iter().map(Literal::of).collect();
            Ok(Box::new(MySqlChunkRows {
                result: Some(result),
                kinds,
                chunk,
            }) as Box<dyn ChunkRows + 'a>)
        })
    }
}

fn chunk_error(chunk: &StoredChunk) -> impl FnOnce(mysql_async::Error) -> CopyError + '_ {
    move |source| CopyError::Upstream {
        what: format!(
            "reading chunk {} of {}",
            chunk.index,
            qualified(&chunk.schema, &chunk.table)
        ),
        source,
    }
}

/// A chunk's `SELECT`, read row by row.
struct MySqlChunkRows<'a> {
    /// `None` once drained.
    result: Option<QueryResult<'a, 'static, TextProtocol>>,
    kinds: Vec<Literal>,
    chunk: &'a StoredChunk,
}

impl ChunkRows for MySqlChunkRows<'_> {
    fn kinds(&self) -> &[Literal] {
        &self.kinds
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
                    Some(other) => Err(CopyError::Unexpected(format!(
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
