//! A statement from the binlog, in the syntax the rest of the sync reads.
//!
//! A `Query` event carries the `sql_mode` of the session that wrote the
//! statement. Under `ANSI_QUOTES` a double-quoted token is an identifier
//! (`CREATE TABLE "t2" ("id" INT)`), which MySQL's default syntax — the one
//! the DDL parser and the downstream sessions use — reads as a string. So
//! such a statement has its double-quoted identifiers put in backticks when
//! it is decoded (see [`crate::upstream::statement::backtick_identifiers`]);
//! everything after sees one syntax.

use mysql_async::binlog::events::{QueryEvent, StatusVarVal};
use mysql_async::binlog::StatusVarKey;
use mysql_async::consts::SqlMode;

use crate::upstream::statement::backtick_identifiers;

/// Whether the session that wrote `query` ran with `ANSI_QUOTES`.
pub fn ansi_quotes(query: &QueryEvent<'_>) -> bool {
    query
        .status_vars()
        .get_status_var(StatusVarKey::SqlMode)
        .and_then(|var| match var.get_value() {
            Ok(StatusVarVal::SqlMode(mode)) => Some(mode.get().contains(SqlMode::MODE_ANSI_QUOTES)),
            _ => None,
        })
        .unwrap_or(false)
}

/// `sql`, the text of `query`, in MySQL's default quoting. A statement
/// the tokenizer cannot read is left as it is (the DDL parser then reports
/// it with the statement).
pub fn statement(query: &QueryEvent<'_>, sql: String) -> String {
    if !ansi_quotes(query) {
        return sql;
    }
    match backtick_identifiers(&sql) {
        Ok(rewritten) => rewritten,
        Err(error) => {
            tracing::warn!(%sql, %error, "cannot read a statement written under ANSI_QUOTES");
            sql
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Query event's status variables with only a `sql_mode`.
    fn query(mode: SqlMode, sql: &str) -> QueryEvent<'static> {
        let mut vars = vec![1u8]; // Q_SQL_MODE_CODE
        vars.extend_from_slice(&mode.bits().to_le_bytes());
        QueryEvent::new(vars, b"app".to_vec()).with_query(sql.as_bytes().to_vec())
    }

    #[test]
    fn ansi_quoted_statements_are_read_with_backticks() {
        let sql = r#"ALTER TABLE "t" ADD COLUMN "c" INT DEFAULT 1"#;
        let ansi = query(
            SqlMode::MODE_ANSI_QUOTES | SqlMode::MODE_STRICT_TRANS_TABLES,
            sql,
        );
        assert!(ansi_quotes(&ansi));
        assert_eq!(
            statement(&ansi, sql.to_string()),
            "ALTER TABLE `t` ADD COLUMN `c` INT DEFAULT 1"
        );
        let plain = query(SqlMode::MODE_STRICT_TRANS_TABLES, "SELECT \"x\"");
        assert!(!ansi_quotes(&plain));
        assert_eq!(statement(&plain, "SELECT \"x\"".into()), "SELECT \"x\"");
        let none = QueryEvent::new(Vec::new(), b"app".to_vec());
        assert!(!ansi_quotes(&none));
    }
}
