//! The upstream port: what the worker reads from a source database, in the
//! port's own vocabulary, behind two traits, with a MySQL / MariaDB adapter
//! (an in-memory one is in `dm-worker-testkit`).
//!
//! - Vocabulary: [`Position`] (binlog file, offset and GTID position),
//!   binlog [`Event`]s and their [`RowChange`]s, row [`Value`]s and the
//!   [`Column`]s that say what they are, base tables and their index
//!   columns, key ranges; one error type, [`UpstreamError`].
//! - [`BinlogSource`] (`binlog`): the binlog from a position, the tables,
//!   the binlog's end and files; what the sync unit reads.
//! - [`CopySource`] (`snapshot`): consistent snapshots at a binlog
//!   position; what the full copy reads.
//! - [`mysql`]: both traits on a real server (binlog protocol, snapshot
//!   transactions, `information_schema` queries); the only place the
//!   MySQL client library's types are converted into the vocabulary.
//! - The in-memory adapter of both traits (the deterministic simulation's
//!   server) and the conformance suites every adapter passes are test
//!   support: the `dm-worker-testkit` crate (`worker/testkit`).
//!
//! Statements the port hands out (DDL from the binlog, `SHOW CREATE
//! TABLE`) are in MySQL's default syntax ([`statement`]).

pub mod at_time;
pub mod binlog;
mod error;
pub mod event;
pub mod expr_value;
pub mod mysql;
pub mod seed;
pub mod snapshot;
pub mod statement;
pub mod value;

pub use crate::position::Position;
pub use binlog::{BinlogSource, Call, Events};
pub use error::UpstreamError;
pub use event::{Event, Located, Logged, RowChange, RowKind};
pub use seed::{SchemaSeed, SeedSchema, SeedTable};
pub use snapshot::{
    BaseTable, ChunkRows, CopyCall, CopySnapshot, CopySource, IndexColumn, KeyRange, TextRow,
};
pub use value::{primary_key_positions, Column, ColumnType, Value, BINARY};
