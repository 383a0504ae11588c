//! Snapshots of the in-memory upstream for the full copy: a copy of every
//! table taken under the server's lock together with the binlog's end, so
//! a snapshot's rows plus the binlog after its position give exactly the
//! upstream (the contract of [`CopySnapshot`]). Every snapshot of one
//! `open_snapshots` call shares one copy and one position.
//!
//! Tables have one integer primary key, `id`; a chunk is the ids in its
//! range, read after the simulated time the handle's read rate gives.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::{MemUpstream, Table};
use dm_proto::sql::qualified;
use dm_rules::TaskRules;
use dm_worker::position::Position;
use dm_worker::upstream::{
    BaseTable, ChunkRows, Column, CopyCall, CopySnapshot, CopySource, IndexColumn, KeyRange,
    SchemaSeed, TextRow, UpstreamError, Value,
};

type Tables = BTreeMap<(String, String), Table>;

/// One snapshot: the tables as of `position`.
struct MemSnapshot {
    position: Position,
    tables: Arc<Tables>,
    read_per_row: std::time::Duration,
}

impl CopySource for MemUpstream {
    fn open_snapshots(&self, count: usize) -> CopyCall<'_, Vec<Box<dyn CopySnapshot>>> {
        let (position, tables) = {
            let s = self.lock();
            (s.position(), Arc::new(s.tables.clone()))
        };
        let group = (0..count.max(1))
            .map(|_| {
                Box::new(MemSnapshot {
                    position: position.clone(),
                    tables: tables.clone(),
                    read_per_row: self.read_per_row,
                }) as Box<dyn CopySnapshot>
            })
            .collect();
        Box::pin(std::future::ready(Ok(group)))
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, UpstreamError>) -> CopyCall<'a, T> {
    Box::pin(std::future::ready(value))
}

impl MemSnapshot {
    fn table(&self, schema: &str, table: &str) -> Result<&Table, UpstreamError> {
        self.tables
            .get(&(schema.to_string(), table.to_string()))
            .ok_or_else(|| UpstreamError::Data(format!("no table {}", qualified(schema, table))))
    }
}

fn name(column: &Column) -> String {
    column.name.clone()
}

fn text(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::Int(i) => Some(i.to_string().into_bytes()),
        Value::UInt(u) => Some(u.to_string().into_bytes()),
        Value::Bytes(b) => Some(b.clone()),
        other => Some(other.as_sql(true).into_bytes()),
    }
}

impl CopySnapshot for MemSnapshot {
    fn position(&self) -> &Position {
        &self.position
    }

    fn list_tables<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, Vec<BaseTable>> {
        let tables = self
            .tables
            .iter()
            .filter(|((s, t), _)| rules.selects(s, t))
            .map(|((schema, table), t)| BaseTable {
                schema: schema.clone(),
                table: table.clone(),
                estimate_rows: t.rows.len() as u64,
            })
            .collect();
        ready(Ok(tables))
    }

    fn index_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<IndexColumn>> {
        ready(self.table(schema, table).map(|_| {
            vec![IndexColumn {
                index: "PRIMARY".into(),
                unique: true,
                column: "id".into(),
                nullable: false,
                integer: true,
            }]
        }))
    }

    fn key_range<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
        key: &'a str,
    ) -> CopyCall<'a, Option<(i128, i128)>> {
        ready(self.table(schema, table).and_then(|t| {
            if key != "id" {
                return Err(UpstreamError::Data(format!(
                    "{} has no integer key {key}",
                    qualified(schema, table)
                )));
            }
            let first = t.rows.keys().next().copied();
            let last = t.rows.keys().next_back().copied();
            Ok(first
                .zip(last)
                .map(|(min, max)| (i128::from(min), i128::from(max))))
        }))
    }

    /// The in-memory upstream evaluates no SQL: a row filter is refused.
    fn count_rows<'a>(
        &'a mut self,
        _schema: &'a str,
        _table: &'a str,
        row_filter: &'a str,
    ) -> CopyCall<'a, u64> {
        ready(Err(no_row_filters(row_filter)))
    }

    fn show_create<'a>(&'a mut self, schema: &'a str, table: &'a str) -> CopyCall<'a, String> {
        ready(self.table(schema, table).map(|t| t.show_create(table)))
    }

    fn schema_seed<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, SchemaSeed> {
        ready(Ok(super::schema_seed(&self.tables, rules)))
    }

    fn writable_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<String>> {
        ready(
            self.table(schema, table)
                .map(|t| t.columns.iter().map(name).collect()),
        )
    }

    fn chunk_rows<'a>(
        &'a mut self,
        chunk: &'a KeyRange,
        columns: &'a [String],
    ) -> CopyCall<'a, Box<dyn ChunkRows + 'a>> {
        if let Some(filter) = &chunk.row_filter {
            return ready(Err(no_row_filters(filter)));
        }
        let read = self.table(&chunk.schema, &chunk.table).and_then(|t| {
            let positions: Vec<usize> = columns
                .iter()
                .map(|c| {
                    t.columns
                        .iter()
                        .position(|col| name(col) == *c)
                        .ok_or_else(|| {
                            UpstreamError::Data(format!(
                                "no column {c} in {}",
                                qualified(&chunk.schema, &chunk.table)
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            let kinds: Vec<Column> = positions
                .iter()
                .filter_map(|p| t.columns.get(*p))
                .cloned()
                .collect();
            let in_range = |id: i64| {
                let id = i128::from(id);
                chunk.key_column.is_none()
                    || (chunk.lower.is_none_or(|l| id >= l) && chunk.upper.is_none_or(|u| id < u))
            };
            let rows: VecDeque<TextRow> = t
                .rows
                .iter()
                .filter(|(id, _)| in_range(**id))
                .map(|(_, row)| {
                    positions
                        .iter()
                        .map(|p| row.get(*p).and_then(text))
                        .collect()
                })
                .collect();
            Ok(MemChunkRows { rows, kinds })
        });
        let delay = self
            .read_per_row
            .saturating_mul(read.as_ref().map_or(0, |r| r.rows.len() as u32));
        Box::pin(async move {
            let rows = read?;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(Box::new(rows) as Box<dyn ChunkRows + 'a>)
        })
    }
}

/// A chunk's rows, read in full from the snapshot's copy.
struct MemChunkRows {
    rows: VecDeque<TextRow>,
    kinds: Vec<Column>,
}

impl ChunkRows for MemChunkRows {
    fn columns(&self) -> &[Column] {
        &self.kinds
    }

    fn next_row(&mut self) -> CopyCall<'_, Option<TextRow>> {
        ready(Ok(self.rows.pop_front()))
    }

    fn drain(&mut self) -> CopyCall<'_, ()> {
        self.rows.clear();
        ready(Ok(()))
    }
}

/// The in-memory upstream's answer to a row filter (`mydumpers.where`),
/// which only a SQL server evaluates.
fn no_row_filters(row_filter: &str) -> UpstreamError {
    UpstreamError::Data(format!(
        "the in-memory upstream cannot evaluate the row filter `{row_filter}` (mydumpers.where)"
    ))
}
