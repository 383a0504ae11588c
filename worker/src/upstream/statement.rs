//! Statements in the port's syntax: every statement the upstream port
//! hands out (a DDL from the binlog, a `SHOW CREATE TABLE`) is in MySQL's
//! default syntax, whatever `sql_mode` the upstream session that wrote it
//! ran with. Under `ANSI_QUOTES` a double-quoted token is an identifier
//! (`CREATE TABLE "t2" ("id" INT)`), which the default syntax reads as a
//! string; [`backtick_identifiers`] rewrites such text.

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use dm_proto::sql::quote;

/// Why a statement's text cannot be rewritten or read. `head` is the start
/// of the statement, for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The tokenizer stopped.
    #[error("{error} in: {head}")]
    Tokens { error: String, head: String },
    #[error("cannot place the identifier \"{name}\" in: {head}")]
    Unplaceable { name: String, head: String },
    #[error("not a CREATE TABLE statement: {0}")]
    NotCreateTable(String),
    #[error("no table name in: {0}")]
    NoTableName(String),
}

impl StatementError {
    /// The tokenizer's `error` on `sql`.
    pub fn tokens(error: impl std::fmt::Display, sql: &str) -> Self {
        StatementError::Tokens {
            error: error.to_string(),
            head: head(sql),
        }
    }
}

/// `sql` as written under `ANSI_QUOTES`, with every double-quoted
/// identifier in backticks instead: the same statement in the syntax of a
/// session without that mode (the rest of the text is kept byte for byte).
pub fn backtick_identifiers(sql: &str) -> Result<String, StatementError> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| StatementError::tokens(e, sql))?;
    let mut offsets = TextOffsets::new(sql);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut copied = 0;
    for t in &tokens {
        let Token::DoubleQuotedString(name) = &t.token else {
            continue;
        };
        let span = offsets
            .offset(t.span.start)
            .zip(offsets.offset(t.span.end))
            .filter(|&(start, end)| {
                start >= copied
                    && sql
                        .get(start..end)
                        .is_some_and(|s| s.len() >= 2 && s.starts_with('"') && s.ends_with('"'))
            });
        let Some((start, end)) = span else {
            return Err(StatementError::Unplaceable {
                name: name.clone(),
                head: head(sql),
            });
        };
        out.push_str(sql.get(copied..start).unwrap_or_default());
        out.push_str(&quote(name));
        copied = end;
    }
    out.push_str(sql.get(copied..).unwrap_or_default());
    Ok(out)
}

/// The start of `text`, for messages.
pub(crate) fn head(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Byte offsets of sqlparser locations (line and column, counted in
/// characters from 1) in the text that was tokenized. Locations are
/// looked up in increasing order, so a walk over the text serves all.
#[derive(Debug)]
pub struct TextOffsets<'a> {
    text: &'a str,
    /// The walk's position: byte offset, line, column.
    byte: usize,
    line: u64,
    column: u64,
}

impl<'a> TextOffsets<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            line: 1,
            column: 1,
        }
    }

    /// The byte offset of `at`; `None` when the text has no such place.
    pub fn offset(&mut self, at: Location) -> Option<usize> {
        if (at.line, at.column) < (self.line, self.column) {
            *self = Self::new(self.text);
        }
        while (self.line, self.column) < (at.line, at.column) {
            let c = self.text.get(self.byte..)?.chars().next()?;
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        ((self.line, self.column) == (at.line, at.column)).then_some(self.byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_quoted_identifiers_become_backticked() {
        let cases = [
            (
                r#"CREATE TABLE "app"."t2" ("id" INT PRIMARY KEY, "c" VARCHAR(20) DEFAULT 'x')"#,
                "CREATE TABLE `app`.`t2` (`id` INT PRIMARY KEY, `c` VARCHAR(20) DEFAULT 'x')",
            ),
            (
                "ALTER TABLE \"t\" ADD COLUMN \"we\"\"ird\" INT, ADD COLUMN \"back`tick\" INT",
                "ALTER TABLE `t` ADD COLUMN `we\"ird` INT, ADD COLUMN `back``tick` INT",
            ),
            (
                "ALTER TABLE \"表\"\n  ADD \"é\" TEXT -- \"a comment\"\n COMMENT 'it''s \"x\"'",
                "ALTER TABLE `表`\n  ADD `é` TEXT -- \"a comment\"\n COMMENT 'it''s \"x\"'",
            ),
            ("DROP TABLE `t`", "DROP TABLE `t`"),
        ];
        for (ansi, mysql) in cases {
            assert_eq!(backtick_identifiers(ansi).unwrap(), mysql, "{ansi}");
        }
    }

    #[test]
    fn offsets_of_locations() {
        let text = "ab\né\"x\"";
        let mut o = TextOffsets::new(text);
        assert_eq!(o.offset(Location::new(1, 1)), Some(0));
        assert_eq!(o.offset(Location::new(2, 2)), Some(5));
        assert_eq!(o.offset(Location::new(2, 5)), Some(8));
        assert_eq!(o.offset(Location::new(1, 3)), Some(2));
        assert_eq!(o.offset(Location::new(2, 6)), None);
    }
}
