//! Table definitions as the upstream prints them, made into the `CREATE
//! TABLE` of the routed target.
//!
//! The copy reads definitions with `SHOW CREATE TABLE` in sessions whose
//! `sql_mode` the upstream adapter sets itself (`upstream::mysql`'s
//! `READ_SQL_MODE`): the server prints a
//! definition according to the session's mode (`ANSI_QUOTES` quotes names
//! with `"`, `NO_TABLE_OPTIONS` / `NO_KEY_OPTIONS` / `NO_FIELD_OPTIONS`
//! leave parts out, `MAXDB` prints TIMESTAMP as DATETIME), so whatever the
//! upstream's global mode, the definition comes in MySQL's own syntax with
//! nothing left out.
//!
//! Only the table's name is replaced. It is found with sqlparser's
//! tokenizer (MySQL dialect), and the text after it is kept as the server
//! printed it: the full parser would drop what it does not model (MariaDB
//! options, versioned comments such as `/*!50100 PARTITION BY ...*/`).
//!
//! Text written under `ANSI_QUOTES` (a definition printed in such a
//! session, or a DDL statement from the binlog whose session had it) is
//! first brought to MySQL's syntax by `upstream::statement::backtick_identifiers`: under that
//! mode a double-quoted token is always an identifier, never a string.

use sqlparser::dialect::MySqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::sql::qualified;
use crate::upstream::statement::{backtick_identifiers, head, StatementError, TextOffsets};

/// Turns `SHOW CREATE TABLE` output into a `CREATE TABLE IF NOT EXISTS` of
/// `schema`.`table` (the routed target).
/// A definition printed under `ANSI_QUOTES` has its identifiers in double
/// quotes; one printed without has none (its strings are single-quoted), so
/// double-quoted tokens are identifiers either way.
pub fn create_table_as(
    show_create: &str,
    schema: &str,
    table: &str,
) -> Result<String, StatementError> {
    let show_create = &backtick_identifiers(show_create)?;
    let tokens = Tokenizer::new(&MySqlDialect {}, show_create)
        .tokenize_with_location()
        .map_err(|e| StatementError::tokens(e, show_create))?;
    let mut code = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let is_keyword = |t: Option<&TokenWithSpan>, keyword: Keyword| {
        matches!(t, Some(TokenWithSpan { token: Token::Word(w), .. })
            if w.quote_style.is_none() && w.keyword == keyword)
    };
    if !(is_keyword(code.next(), Keyword::CREATE) && is_keyword(code.next(), Keyword::TABLE)) {
        return Err(StatementError::NotCreateTable(head(show_create)));
    }
    // The name: `table` (or `schema`.`table`).
    let name_end = loop {
        let end = match code.next() {
            Some(t) if is_name(&t.token) => t.span.end,
            _ => return Err(StatementError::NoTableName(head(show_create))),
        };
        match code.clone().next() {
            Some(t) if t.token == Token::Period => {
                code.next();
            }
            _ => break end,
        }
    };
    let rest = TextOffsets::new(show_create)
        .offset(name_end)
        .and_then(|at| show_create.get(at..))
        .ok_or_else(|| StatementError::NoTableName(head(show_create)))?;
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {}{rest}",
        qualified(schema, table)
    ))
}

/// Whether a token can be (part of) a table's name: quoted, or a bare word
/// (which may be a non-reserved keyword such as `status`).
fn is_name(token: &Token) -> bool {
    matches!(token, Token::Word(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_is_renamed_to_the_route_target() {
        let show = "CREATE TABLE `t``1` (\n  `id` bigint(20) NOT NULL\n) ENGINE=InnoDB";
        assert_eq!(
            create_table_as(show, "merged", "t").unwrap(),
            "CREATE TABLE IF NOT EXISTS `merged`.`t` (\n  `id` bigint(20) NOT NULL\n) ENGINE=InnoDB"
        );
        // Whatever follows the name is kept as printed, comments included.
        let partitioned = "CREATE TABLE `表_données` (\n  `id` int(11) NOT NULL COMMENT 'é ''x''',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4\n PARTITION BY HASH (`id`)\nPARTITIONS 2 /*!80000 x */";
        assert_eq!(
            create_table_as(partitioned, "a", "b").unwrap(),
            partitioned.replace(
                "CREATE TABLE `表_données`",
                "CREATE TABLE IF NOT EXISTS `a`.`b`"
            )
        );
        // Printed under ANSI_QUOTES, or qualified.
        assert_eq!(
            create_table_as(
                "CREATE TABLE \"t\" (\n  \"i\"\"d\" int DEFAULT 'a\"b',\n  `x` int\n)",
                "a",
                "b"
            )
            .unwrap(),
            "CREATE TABLE IF NOT EXISTS `a`.`b` (\n  `i\"d` int DEFAULT 'a\"b',\n  `x` int\n)"
        );
        assert_eq!(
            create_table_as("CREATE TABLE `s`.`t` (`id` int)", "a", "b").unwrap(),
            "CREATE TABLE IF NOT EXISTS `a`.`b` (`id` int)"
        );
        assert!(create_table_as("CREATE VIEW `v` AS SELECT 1", "a", "b").is_err());
        assert!(create_table_as("CREATE TABLE (`id` int)", "a", "b").is_err());
    }
}
