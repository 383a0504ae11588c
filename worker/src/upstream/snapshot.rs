//! What the copy reads, behind traits: consistent snapshots of the
//! upstream at one binlog position, the tables they hold, and a chunk's
//! rows streamed as text.
//!
//! Two adapters: a MySQL / MariaDB server (`mysql::MySqlCopySource`, one
//! `REPEATABLE READ` transaction per snapshot) and the simulation's
//! in-memory upstream (`dm_worker_testkit::upstream`, a copy of its tables
//! taken atomically at a binlog position). Both pass the snapshot
//! conformance suite (`dm_worker_testkit::conformance::snapshot`).
//!
//! The contract: every read of one [`CopySnapshot`] sees the upstream as
//! it was at [`CopySnapshot::position`], so the snapshot's rows plus the
//! binlog after that position give exactly the upstream.

use std::fmt;

use futures::future::BoxFuture;

use super::seed::SchemaSeed;
use super::value::Column;
use super::UpstreamError;
use crate::position::Position;
use dm_rules::TaskRules;

/// A copy call's future.
pub type CopyCall<'a, T> = BoxFuture<'a, Result<T, UpstreamError>>;

/// A base table, with the server's estimate of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseTable {
    pub schema: String,
    pub table: String,
    pub estimate_rows: u64,
}

/// One column of an index, as `information_schema.STATISTICS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexColumn {
    pub index: String,
    pub unique: bool,
    pub column: String,
    pub nullable: bool,
    /// Whether the column's type is an integer type.
    pub integer: bool,
}

/// The rows of a table whose integer key is in `[lower, upper)` (`None`:
/// unbounded); every row when there is no key. `index` names the range in
/// messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub schema: String,
    pub table: String,
    pub index: u32,
    pub key_column: Option<String>,
    pub lower: Option<i128>,
    pub upper: Option<i128>,
    /// A condition in SQL every row read must also meet (the instance's
    /// `mydumpers.where`), already checked to parse as one expression;
    /// `None`: every row of the range.
    pub row_filter: Option<String>,
}

/// One row as the text protocol gives it: a value's bytes, `None` is NULL.
pub type TextRow = Vec<Option<Vec<u8>>>;

/// Where a copy's snapshots come from.
pub trait CopySource: Send + Sync + fmt::Debug {
    /// Opens `count` snapshots, at one binlog position when the upstream
    /// can give that (each snapshot records its own position).
    fn open_snapshots(&self, count: usize) -> CopyCall<'_, Vec<Box<dyn CopySnapshot>>>;
}

/// One consistent snapshot of the upstream.
pub trait CopySnapshot: Send {
    /// The binlog position the snapshot's data corresponds to.
    fn position(&self) -> &Position;

    /// The base tables `rules` select, with row estimates, in (schema,
    /// table) order.
    fn list_tables<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, Vec<BaseTable>>;

    /// The schemas `rules` select, tables or not, in order (a schema
    /// without tables is created downstream too). An upstream whose schemas
    /// exist only through their tables (the in-memory one) lists none.
    fn list_schemas<'a>(&'a mut self, _rules: &'a TaskRules) -> CopyCall<'a, Vec<String>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// The columns of every index of `schema`.`table`, by index name and
    /// position in the index.
    fn index_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<IndexColumn>>;

    /// The smallest and largest value of the integer column `key`; `None`
    /// when the table is empty.
    fn key_range<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
        key: &'a str,
    ) -> CopyCall<'a, Option<(i128, i128)>>;

    /// How many rows of `schema`.`table` meet `row_filter` (a SQL
    /// condition, see [`KeyRange::row_filter`]): the copy's estimate when
    /// it copies only those. An upstream that cannot evaluate SQL (the
    /// in-memory one) says so.
    fn count_rows<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
        row_filter: &'a str,
    ) -> CopyCall<'a, u64>;

    /// The definitions of the tables `rules` select, in the snapshot: the
    /// schema tracker's start at [`Self::position`].
    fn schema_seed<'a>(&'a mut self, rules: &'a TaskRules) -> CopyCall<'a, SchemaSeed>;

    /// The table's definition, as `SHOW CREATE TABLE` prints it.
    fn show_create<'a>(&'a mut self, schema: &'a str, table: &'a str) -> CopyCall<'a, String>;

    /// The columns a copy writes: every column but generated ones, in
    /// order.
    fn writable_columns<'a>(
        &'a mut self,
        schema: &'a str,
        table: &'a str,
    ) -> CopyCall<'a, Vec<String>>;

    /// Streams the rows of `range`, values of `columns` in that order.
    fn chunk_rows<'a>(
        &'a mut self,
        range: &'a KeyRange,
        columns: &'a [String],
    ) -> CopyCall<'a, Box<dyn ChunkRows + 'a>>;
}

/// A chunk's rows, read as they come.
pub trait ChunkRows: Send {
    /// What each value is (its type and character set), in order.
    fn columns(&self) -> &[Column];

    /// The next row; `None` after the last.
    fn next_row(&mut self) -> CopyCall<'_, Option<TextRow>>;

    /// Reads and drops the rest, so the snapshot stays usable.
    fn drain(&mut self) -> CopyCall<'_, ()>;
}
