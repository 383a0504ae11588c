//! `mydumpers.where`: the condition the full copy adds to every `SELECT`
//! of the instance's tables (DM passes it to dumpling's `--where`).
//!
//! The copy splices the text into its chunk queries, `WHERE <range> AND
//! (<condition>)`, so the text must be exactly one SQL expression: a
//! condition that does not parse, or that carries more than one (`1; DROP
//! TABLE t`, `1) OR (1`), is refused when the task is checked, naming the
//! key, instead of failing (or doing something else) at copy time.

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// Checks that `condition` is one SQL expression; the error says why not.
pub fn check(condition: &str) -> Result<(), String> {
    let dialect = MySqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(condition)
        .map_err(|e| format!("\"{condition}\" is not a SQL condition: {e}"))?;
    parser
        .parse_expr()
        .map_err(|e| format!("\"{condition}\" is not a SQL condition: {e}"))?;
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        rest => Err(format!(
            "\"{condition}\" is not one SQL condition: unexpected {rest} after the expression"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_expression_is_a_condition() {
        for good in [
            "id % 3 = 0",
            "id > 10 AND name LIKE 'a%'",
            "created_at >= '2024-01-01' OR id IN (1, 2, 3)",
            "`select` IS NOT NULL",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_text() {
        for bad in ["id % = 3", "", "1; DROP TABLE t", "1) OR (1", "id = 1 id"] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
    }
}
