//! The schema tracker: the definition of every table a subtask reads, at
//! the binlog position the sync has reached.
//!
//! Why: an upstream that logs row events without column names (MariaDB
//! `binlog_row_metadata=NO_LOG`, MySQL `MINIMAL`, MySQL 5.7) says only
//! each column's binlog type. Which column is which, whether an integer is
//! unsigned, what character set a string is in, what an ENUM index means
//! and which columns are the keys must come from the table's definition
//! as it was when the row was written, which is not the upstream's
//! current definition when later DDL has run since.
//!
//! The protocol: the tracker starts from the definitions read at the
//! start position ([`SchemaTracker::seed`] with `SHOW CREATE TABLE` text,
//! read inside a full copy's consistent snapshot, or at start for an
//! incremental task). Every DDL of the binlog then goes through
//! [`SchemaTracker::apply`], in binlog order, before the rows after it are
//! decoded. A statement either applies whole or is an error naming it (the
//! caller pauses the subtask: a wrong definition would write values into
//! the wrong columns, which is worse than stopping). Each changed table
//! gets a new version. The whole state is written as text
//! ([`SchemaTracker::to_text`]) beside the checkpoint that passes the DDL,
//! in the same transaction, so a restart or a worker that takes over
//! reads the definitions that belong to its checkpoint.
//!
//! Pure: no IO, no clock; the same statements give the same state and the
//! same text.
//!
//! - [`table`]: the definitions ([`TableDef`], [`ColumnDef`]) and their
//!   `CREATE TABLE` rendering.
//! - [`parse`]: sqlparser's syntax tree read into definitions.
//! - [`apply`]: a DDL applied to the tracked state; [`alter`]: `ALTER
//!   TABLE` operations on one definition; [`specs`]: `ALTER
//!   TABLE` specifications sqlparser does not read, from the tokens.
//! - [`tracker`]: the state, seeding and persisted text.
//! - [`error`]: the one error enum, [`SchemaError`].
//! - [`ops`]: `binlog-schema` operations from the leader ([`SchemaOp`]).

mod alter;
mod apply;
mod error;
mod ops;
mod parse;
mod seed;
mod specs;
mod table;
mod tracker;
pub(crate) mod type_words;

#[cfg(test)]
mod tests;

pub use apply::{Applied, Change};
pub use error::{SchemaError, Subject};
pub use ops::SchemaOp;
pub use table::{Charset, ColumnDef, Generated, Key, TableDef};
pub use tracker::{Flavor, SchemaTracker, TableName, FORMAT};
