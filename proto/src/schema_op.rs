//! `binlog-schema update`'s definition text, checked where it enters: by
//! dmctl (which names the file it read) and again by the master (any
//! client may send a request).
//!
//! A tracked definition must be exactly one `CREATE TABLE` statement with
//! its columns (not `LIKE` another table, not `AS SELECT`), as MySQL's
//! dialect reads it: the worker's schema tracker replaces the table's
//! definition with it, so anything else would leave the tracker without a
//! definition to decode rows with.
//!
//! A file saved from MariaDB's own `SHOW CREATE TABLE` must pass, so the
//! forms MariaDB prints that sqlparser's MySQL dialect does not read are
//! rewritten before the check ([`mariadb_forms`]), as the worker's tracker
//! reads them: `ZEROFILL` (the `UNSIGNED` it implies), a generated
//! column's `PERSISTENT` (`STORED`), `ENGINE='InnoDB'` (the bare name) and
//! the table's `PARTITION BY` clause (left out: nothing a row needs).

use sqlparser::ast::Statement;
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

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
    let unparsable = |e: String| CreateTableError::Unparsable(e);
    let text = mariadb_forms(sql).map_err(unparsable)?;
    let statements =
        Parser::parse_sql(&MySqlDialect {}, &text).map_err(|e| unparsable(e.to_string()))?;
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

/// `sql` with the forms of MariaDB's `SHOW CREATE TABLE` that sqlparser's
/// MySQL dialect does not read rewritten into ones it does (see the module
/// documentation); other text is kept as it is.
pub fn mariadb_forms(sql: &str) -> Result<String, String> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let keyword = |t: &Token, k: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let creates = tokens
        .iter()
        .find(|t| !matches!(t, Token::Whitespace(_)))
        .is_some_and(|t| keyword(t, "CREATE"));
    let mut out = String::with_capacity(sql.len());
    // The two words before the current one (whitespace skipped).
    let mut previous: Option<&Token> = None;
    let mut before_previous: Option<&Token> = None;
    let mut depth = 0usize;
    for t in &tokens {
        if matches!(t, Token::Whitespace(_)) {
            out.push_str(&t.to_string());
            continue;
        }
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        if creates && depth == 0 && keyword(t, "PARTITION") {
            // The table's partitioning, to the end of the statement.
            break;
        }
        let after_engine = |option: Option<&Token>| option.is_some_and(|o| keyword(o, "ENGINE"));
        let replacement = if keyword(t, "ZEROFILL") {
            if previous.is_some_and(|p| keyword(p, "UNSIGNED")) {
                String::new()
            } else {
                "UNSIGNED".into()
            }
        } else if keyword(t, "PERSISTENT") && previous == Some(&Token::RParen) {
            "STORED".into()
        } else {
            match t {
                Token::SingleQuotedString(engine)
                    if !engine.is_empty()
                        && (after_engine(previous)
                            || (previous == Some(&Token::Eq) && after_engine(before_previous))) =>
                {
                    engine.clone()
                }
                other => other.to_string(),
            }
        };
        out.push_str(&replacement);
        before_previous = previous;
        previous = Some(t);
    }
    Ok(out)
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

    /// `SHOW CREATE TABLE` texts of MariaDB 10.11, as a file saved from
    /// it holds them.
    const MARIADB_PRINTS: &[&str] = &[
        "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `z` smallint(5) unsigned zerofill DEFAULT 00007,\n  `y` int(4) zerofill DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci",
        "CREATE TABLE `g` (\n  `a` int(11) DEFAULT NULL,\n  `b` int(11) AS (`a` + 1) PERSISTENT,\n  `c` int(11) GENERATED ALWAYS AS (`a` * 2) VIRTUAL,\n  KEY `b` (`b`)\n) ENGINE='InnoDB' DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        "CREATE TABLE `p` (\n  `a` int(11) NOT NULL,\n  `b` varchar(10) DEFAULT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci\n PARTITION BY HASH (`a`)\nPARTITIONS 2",
        "CREATE TABLE `r` (\n  `a` int(11) NOT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci\n PARTITION BY RANGE (`a`)\n(PARTITION `p0` VALUES LESS THAN (10) ENGINE = InnoDB,\n PARTITION `p1` VALUES LESS THAN MAXVALUE ENGINE = InnoDB)",
    ];

    #[test]
    fn what_mariadb_prints_passes() {
        for sql in MARIADB_PRINTS {
            assert_eq!(check_create_table(sql), Ok(()), "{sql}");
        }
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
