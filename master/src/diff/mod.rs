//! `check-diff`: does the downstream hold what the task's upstreams hold?
//!
//! The method is the one of sync-diff-inspector: compare cheap aggregates
//! first, rows only where the aggregates disagree.
//!
//! 1. Tables ([`plan`]): each source's tables selected by its block-allow
//!    list, grouped by the downstream table the routes send them to (the
//!    shards of a merge meet in one target).
//! 2. Columns: those of the first upstream table, by name; every shard and
//!    the downstream must have them (extra downstream columns are ignored).
//!    The upstream's primary key orders and splits the rows; a table
//!    without one is not comparable.
//! 3. Chunks ([`chunks`]): the downstream's key space is cut every
//!    `chunk_rows` keys (`ORDER BY pk LIMIT 1 OFFSET n`, from the previous
//!    boundary on, so each step reads one chunk of the index). The first
//!    chunk is open below and the last open above, so upstream rows outside
//!    the downstream's keys are compared too. A composite key is compared
//!    as a tuple, `(a, b) >= (?, ?)`.
//! 4. Per chunk, every side computes `COUNT(*)` and the sum of the CRC32 of
//!    each row's columns as text (with an `ISNULL` flag per column). Sums
//!    do not depend on row order and the shards' sums add up to what the
//!    merged downstream table must give, so one query per shard and one
//!    downstream decide a chunk without moving its rows.
//! 5. A chunk whose counts or sums differ is read on both sides and its
//!    rows compared by key: missing downstream, extra downstream, or
//!    changed. A chunk can differ with no differing row when the two sides
//!    store equal values differently (other column types or charsets).
//!    Chunks follow the downstream's keys, so where the downstream lacks
//!    many rows a chunk can hold far more upstream rows; such a chunk is
//!    first cut again along the keys of its largest side (at most once per
//!    side), so no read brings much more than a chunk of rows.
//!
//! The data keeps changing while a task syncs, so a diff of a running task
//! is a snapshot of a moving target: run it when the upstream is quiet and
//! the task has caught up.

pub mod chunks;
pub mod error;
pub mod mysql;
pub mod plan;

pub use error::{DiffError, TableError};

/// Rows per chunk unless the request says otherwise.
pub const DEFAULT_CHUNK_ROWS: u64 = 10_000;
/// Differing rows reported per table unless the request says otherwise.
pub const DEFAULT_MAX_ROWS: u32 = 20;

/// How the comparison is cut and how much of it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffLimits {
    /// Downstream rows per chunk (at least 1).
    pub chunk_rows: u64,
    /// Differing rows listed per table (all are counted).
    pub max_rows_reported: u32,
}

impl DiffLimits {
    /// The limits of a request, where 0 means the default.
    pub fn new(chunk_rows: u64, max_rows_reported: u32) -> Self {
        Self {
            chunk_rows: if chunk_rows == 0 {
                DEFAULT_CHUNK_ROWS
            } else {
                chunk_rows
            },
            max_rows_reported: if max_rows_reported == 0 {
                DEFAULT_MAX_ROWS
            } else {
                max_rows_reported
            },
        }
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffReport {
    pub tables: Vec<TableReport>,
}

impl DiffReport {
    fn total(&self, field: impl Fn(&TableReport) -> u64) -> u64 {
        self.tables.iter().map(field).fold(0, u64::saturating_add)
    }

    pub fn rows_compared(&self) -> u64 {
        self.total(|t| t.rows_compared)
    }

    pub fn rows_differing(&self) -> u64 {
        self.total(|t| t.rows_differing)
    }

    pub fn chunks_compared(&self) -> u64 {
        self.total(|t| t.chunks_compared)
    }

    pub fn chunks_differing(&self) -> u64 {
        self.total(|t| t.chunks_differing)
    }

    /// Whether some table was compared only in part (`mydumpers.where`).
    pub fn filtered(&self) -> bool {
        self.tables.iter().any(|t| t.filter.is_some())
    }
}

/// One downstream table compared with its upstream tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    /// `` `schema`.`table` `` downstream.
    pub target: String,
    /// [`plan::Member::label`] of each upstream table.
    pub sources: Vec<String>,
    /// Distinct keys compared: a chunk's row count when it matched, the
    /// keys of both sides when it was compared row by row.
    pub rows_compared: u64,
    pub rows_differing: u64,
    pub chunks_compared: u64,
    pub chunks_differing: u64,
    /// Why the table could not be (fully) compared.
    pub error: Option<String>,
    /// The condition the compared rows meet (`mydumpers.where`); `None`:
    /// every row.
    pub filter: Option<String>,
    /// The first differing rows.
    pub differences: Vec<chunks::Difference>,
}
