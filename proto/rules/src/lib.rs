//! DM's table rules as pure functions: which tables a source migrates, where
//! they go, which events are applied, and how columns are rewritten.
//!
//! The rules read the task file's sections (`dm_proto::config::task`) and
//! behave as DM 2.0.7 does, which delegates them to tidb-tools (version
//! 915b22e4): `pkg/filter` for block-allow lists, `pkg/table-router`,
//! `pkg/binlog-filter` and `pkg/column-mapping`, all selecting tables through
//! `pkg/table-rule-selector`. Each module's docs state the semantics and the
//! few places where we differ on purpose.
//!
//! - [`pattern`]: wildcard (`*` last, `?`, `[...]`) and `~regex` name
//!   patterns, case folding, and the `(schema, table)` rule selector.
//! - [`block_allow`]: `block-allow-list` / `black-white-list`, plus the
//!   system schemas DM never migrates.
//! - [`router`]: table routing (`routes`).
//! - [`binlog_filter`]: `filters` (row events and DDL, `sql-pattern`).
//! - [`column_mapping`]: `column-mappings`, `partition id` above all.
//! - [`expr`]: expression filters (`expression-filter`): SQL expressions
//!   over a row's values, evaluated as MySQL does.
//! - [`task`]: one source's rules of a task, compiled together.
//! - [`pipeline`]: the one way through them, in DM's order, that the sync,
//!   the copy, `check-diff` and the pre-checks all take.
//!
//! Everything here is deterministic: no IO, no clocks. Errors are
//! [`RuleError`], with DM's texts where DM has one.

pub mod binlog_filter;
pub mod block_allow;
pub mod column_mapping;
mod error;
pub mod expr;
pub mod pattern;
pub mod pipeline;
pub mod router;
pub mod task;

pub use binlog_filter::{Action, BinlogFilter, EventKind};
pub use block_allow::{is_system_schema, BlockAllow, SYSTEM_SCHEMAS};
pub use column_mapping::{
    compute_id, partition_id, ColumnMapper, ColumnMappings, ColumnValue, Partition, PartitionArgs,
    MAX_ORIGIN_ID,
};
pub use error::RuleError;
pub use pipeline::{Dropped, Fate, PipelineError, Route};
pub use router::Router;
pub use task::{source_filters, TaskRules};
