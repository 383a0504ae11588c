//! `binlog-schema update`'s definition text, checked where it enters: by
//! dmctl (which names the file it read) and again by the master (any
//! client may send a request).
//!
//! A tracked definition must be exactly one `CREATE TABLE` statement with
//! its columns (not `LIKE` another table, not `AS SELECT`), as MySQL's
//! dialect reads it: the worker's schema tracker replaces the table's
//! definition with it, so anything else would leave the tracker without a
//! definition to decode rows with.

use sqlparser::ast::Statement;
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// Why a text is not one `CREATE TABLE` statement. The messages are shown
/// to users after the name of what was read (a file, a request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateTableError {
    #[error(
        "is not valid SQL ({0}); give one CREATE TABLE statement, as SHOW CREATE TABLE prints it"
    )]
    Unparsable(String),
    #[error("holds no statement; give one CREATE TABLE statement, as SHOW CREATE TABLE prints it")]
    Empty,
    #[error("holds {0} statements; give exactly one CREATE TABLE statement")]
    Several(usize),
    #[error("is not a CREATE TABLE statement (it starts `{0}`); give one CREATE TABLE statement, as SHOW CREATE TABLE prints it")]
    NotCreateTable(String),
    #[error("is a CREATE TABLE without its own column list (LIKE or AS SELECT); give the table's columns, as SHOW CREATE TABLE prints them")]
    NoColumns,
}

/// Checks that `sql` is exactly one `CREATE TABLE` with its columns.
pub fn check_create_table(sql: &str) -> Result<(), CreateTableError> {
    let statements = Parser::parse_sql(&MySqlDialect {}, sql)
        .map_err(|e| CreateTableError::Unparsable(e.to_string()))?;
    match statements.as_slice() {
        [] => Err(CreateTableError::Empty),
        [Statement::CreateTable(ct)] => {
            if ct.like.is_some() || ct.query.is_some() || ct.columns.is_empty() {
                Err(CreateTableError::NoColumns)
            } else {
                Ok(())
            }
        }
        [other] => Err(CreateTableError::NotCreateTable(first_words(
            &other.to_string(),
        ))),
        many => Err(CreateTableError::Several(many.len())),
    }
}

/// The first three words of a statement, to say what it is.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// `SHOW CREATE TABLE`'s text of a routed downstream table, named as the
/// upstream table it describes: the statement's first table name becomes
/// `table` (as DM does for `--from-target`). Text that does not start with
/// `CREATE TABLE <name>` is returned as it is.
pub fn renamed_create_table(sql: &str, table: &str) -> String {
    let trimmed = sql.trim_start();
    let Some(rest) = strip_prefix_ignore_case(trimmed, "CREATE TABLE") else {
        return sql.to_string();
    };
    let rest = rest.trim_start();
    let name_len = if let Some(quoted) = rest.strip_prefix('`') {
        // A backquoted name ends at the first single backquote.
        let mut end = None;
        let bytes = quoted.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                if bytes.get(i + 1) == Some(&b'`') {
                    i += 2;
                    continue;
                }
                end = Some(i + 2);
                break;
            }
            i += 1;
        }
        match end {
            Some(e) => e,
            None => return sql.to_string(),
        }
    } else {
        rest.find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len())
    };
    let after = rest.get(name_len..).unwrap_or_default();
    format!("CREATE TABLE {}{after}", crate::sql::quote(table))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_create_table_with_columns_passes() {
        assert_eq!(
            check_create_table(
                "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `v` varchar(10) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
            ),
            Ok(())
        );
        assert_eq!(check_create_table("create table t (id int);"), Ok(()));
    }

    #[test]
    fn anything_else_is_refused_saying_what_it_is() {
        assert!(matches!(
            check_create_table("CREATE TABLE t (id int"),
            Err(CreateTableError::Unparsable(_))
        ));
        assert_eq!(check_create_table("  "), Err(CreateTableError::Empty));
        assert_eq!(
            check_create_table("CREATE TABLE a (id int); CREATE TABLE b (id int)"),
            Err(CreateTableError::Several(2))
        );
        assert_eq!(
            check_create_table("DROP TABLE t"),
            Err(CreateTableError::NotCreateTable("DROP TABLE t".into()))
        );
        assert_eq!(
            check_create_table("CREATE TABLE t LIKE u"),
            Err(CreateTableError::NoColumns)
        );
        assert_eq!(
            check_create_table("CREATE TABLE t AS SELECT 1"),
            Err(CreateTableError::NoColumns)
        );
    }

    #[test]
    fn a_routed_table_is_renamed_to_the_upstream_one() {
        assert_eq!(
            renamed_create_table("CREATE TABLE `t_down` (\n  `id` int(11)\n)", "t"),
            "CREATE TABLE `t` (\n  `id` int(11)\n)"
        );
        assert_eq!(
            renamed_create_table("CREATE TABLE `a``b` (`id` int)", "t"),
            "CREATE TABLE `t` (`id` int)"
        );
        assert_eq!(
            renamed_create_table("create table down(`id` int)", "up"),
            "CREATE TABLE `up`(`id` int)"
        );
        assert_eq!(renamed_create_table("SELECT 1", "t"), "SELECT 1");
    }
}
