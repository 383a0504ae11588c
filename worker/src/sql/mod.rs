//! SQL text, written once for the copy and the sync: quoting (from
//! `dm_proto::sql`), value literals, multi-row `INSERT`s and the
//! statements of binlog row changes.
//!
//! - [`text`]: values the copy reads with the text protocol (bytes as the
//!   server printed them), written by their column's [`Literal`] kind;
//!   multi-row `INSERT` batching cut at the downstream's size limit; the
//!   downstream sessions' `sql_mode` the escapes rely on.
//! - [`row_value`]: typed binlog row values (`upstream::Value` of an
//!   `upstream::Column`) as literals, for the sync's statements.
//! - [`dml`]: row changes as `INSERT` / `REPLACE` / `UPDATE` / `DELETE`
//!   (idempotent in safe mode), and which partial images cannot be
//!   written.
//!
//! Every literal is byte-exact what the downstream must read back; the unit
//! tests here pin the texts.

pub mod dml;
pub mod row_value;
pub mod text;

pub use dm_proto::sql::{qualified, quote};
pub use row_value::push_value;
pub use text::{
    insert_verb, message_value, push_literal, push_quoted, InsertBatcher, Literal, Oversized,
    RowTooLarge, DOWNSTREAM_SQL_MODE,
};
