//! `binlog skip|replace|revert|inject|list` (DM 2.0.7: `handle-error`): the
//! position and the statements a user gives, checked where they enter: by
//! dmctl and again by the master (any client may send a request).
//!
//! ## Positions
//!
//! An operation names the binlog event it is about by where the event
//! *starts*, as `query-status` shows it in a paused subtask's error
//! (`startLocation: [position: (mysql-bin.000003, 1234), ...]`):
//! - `mysql-bin.000003:1234`: file and offset (DM's form);
//! - `mysql-bin|000001.000003:1234`: DM's relay form, the same file;
//! - `0-1-42`: a MariaDB GTID, for a subtask that uses GTID: the event of
//!   the transaction with that GTID that the subtask stops at (the first
//!   statement of it otherwise).
//!
//! ## Statements
//!
//! `replace` and `inject` take statements as DM does: the arguments joined
//! by spaces, surrounding quote marks dropped, split at the top-level `;`.
//! Each must be a DDL (DM: `only support replace or inject with DDL
//! currently`) whose first table names its schema (DM: `injected DDL ...
//! without schema name not valid`): the statements run as if they came from
//! the binlog, where a statement's default schema is not the user's. A
//! statement sqlparser's MySQL dialect cannot read is still taken when its
//! first keyword makes it a DDL (MariaDB has clauses sqlparser lacks).

use std::fmt;

use sqlparser::ast::Statement;
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Where the event an operation is about starts.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum BinlogAt {
    /// A file and an offset in it (a relay name already made plain).
    File { name: String, pos: u32 },
    /// A MariaDB GTID (`domain-server-sequence`).
    Gtid(String),
}

impl fmt::Display for BinlogAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinlogAt::File { name, pos } => write!(f, "({name}, {pos})"),
            BinlogAt::Gtid(gtid) => write!(f, "(gtid {gtid})"),
        }
    }
}

/// A `--binlog-pos` that is none of the accepted forms (DM's text, with the
/// GTID form added).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --binlog-pos {given} in handle-error operation: {why}")]
pub struct BinlogPosError {
    pub given: String,
    pub why: String,
}

/// Reads a `--binlog-pos` (see the module documentation).
pub fn parse_binlog_pos(text: &str) -> Result<BinlogAt, BinlogPosError> {
    let given = trim_quotes(text.trim());
    let fail = |why: String| BinlogPosError {
        given: given.to_string(),
        why,
    };
    let parts: Vec<&str> = given.split(':').collect();
    match parts.as_slice() {
        [name, pos] => {
            let pos: u32 = pos.trim().parse().map_err(|_| {
                fail(format!(
                    "the pos should be digital, position string {given}"
                ))
            })?;
            let name = plain_file_name(name.trim());
            if name.is_empty() {
                return Err(fail(format!(
                    "the file name is empty, position string {given}"
                )));
            }
            Ok(BinlogAt::File { name, pos })
        }
        [one] if is_mariadb_gtid(one) => Ok(BinlogAt::Gtid(one.to_string())),
        _ => Err(fail(format!(
            "the format should be filename:pos (or a GTID domain-server-sequence for a subtask that uses GTID), position string {given}"
        ))),
    }
}

/// DM's relay file name `base|suffix.index` as the upstream names it,
/// `base.index`; other names as they are.
pub fn plain_file_name(name: &str) -> String {
    match name.split_once('|') {
        Some((base, rest)) => match rest.rsplit_once('.') {
            Some((_, index)) => format!("{base}.{index}"),
            None => name.to_string(),
        },
        None => name.to_string(),
    }
}

fn is_mariadb_gtid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn trim_quotes(text: &str) -> &str {
    for q in ['"', '\'', '`'] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            return inner;
        }
    }
    text
}

/// Why the statements of a `replace` or `inject` are refused (DM's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlsError {
    #[error("invalid sql '{sql}': {error}")]
    Invalid { sql: String, error: String },
    #[error("no valid SQLs")]
    Empty,
    #[error("only support replace or inject with DDL currently; `{0}` is not a DDL")]
    NotDdl(String),
    #[error("injected DDL {0} without schema name not valid")]
    WithoutSchema(String),
}

/// The statements in `args` (see the module documentation), each trimmed
/// and without its `;`.
pub fn split_sqls(args: &[String]) -> Result<Vec<String>, SqlsError> {
    let joined = args.join(" ");
    let text = trim_quotes(joined.trim());
    let tokens = Tokenizer::new(&MySqlDialect {}, text)
        .tokenize()
        .map_err(|e| SqlsError::Invalid {
            sql: text.to_string(),
            error: e.to_string(),
        })?;
    let mut statements: Vec<Vec<Token>> = vec![Vec::new()];
    for token in tokens {
        match token {
            Token::SemiColon => statements.push(Vec::new()),
            other => {
                if let Some(last) = statements.last_mut() {
                    last.push(other);
                }
            }
        }
    }
    let mut out = Vec::new();
    for tokens in statements {
        let sql: String = tokens.iter().map(ToString::to_string).collect();
        let sql = sql.trim().to_string();
        if sql.is_empty() {
            continue;
        }
        check_ddl(&sql, &tokens)?;
        out.push(sql);
    }
    if out.is_empty() {
        return Err(SqlsError::Empty);
    }
    Ok(out)
}

/// The words of `tokens` (whitespace and comments left out).
fn words(tokens: &[Token]) -> Vec<&Token> {
    tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
}

fn keyword(t: Option<&&Token>, k: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
}

fn check_ddl(sql: &str, tokens: &[Token]) -> Result<(), SqlsError> {
    let words = words(tokens);
    let ddl_word = ["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"]
        .iter()
        .any(|k| keyword(words.first(), k));
    match Parser::parse_sql(&MySqlDialect {}, sql) {
        Ok(parsed) => {
            let is_ddl = parsed.iter().all(|s| {
                matches!(
                    s,
                    Statement::CreateTable(_)
                        | Statement::AlterTable(_)
                        | Statement::Drop { .. }
                        | Statement::CreateIndex(_)
                        | Statement::CreateDatabase { .. }
                        | Statement::CreateSchema { .. }
                        | Statement::CreateView(_)
                        | Statement::Truncate(_)
                        | Statement::RenameTable(_)
                )
            }) && !parsed.is_empty();
            if !is_ddl {
                return Err(SqlsError::NotDdl(sql.to_string()));
            }
        }
        Err(error) if !ddl_word => {
            return Err(SqlsError::Invalid {
                sql: sql.to_string(),
                error: error.to_string(),
            })
        }
        Err(_) => {}
    }
    if !first_name_qualified(&words) {
        return Err(SqlsError::WithoutSchema(sql.to_string()));
    }
    Ok(())
}

/// Whether the first object a DDL names carries its schema (`db.t`); a
/// database statement names a schema itself.
fn first_name_qualified(words: &[&Token]) -> bool {
    let mut at = 1;
    // CREATE [OR REPLACE] [UNIQUE|FULLTEXT|SPATIAL|TEMPORARY] ...
    while [
        "OR",
        "REPLACE",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "TEMPORARY",
        "ONLINE",
        "IGNORE",
    ]
    .iter()
    .any(|k| keyword(words.get(at), k))
    {
        at += 1;
    }
    if ["DATABASE", "SCHEMA"]
        .iter()
        .any(|k| keyword(words.get(at), k))
    {
        return true;
    }
    if keyword(words.get(at), "INDEX") || keyword(words.get(at), "KEY") {
        // CREATE INDEX i ON db.t / DROP INDEX i ON db.t
        while at < words.len() && !keyword(words.get(at), "ON") {
            at += 1;
        }
        at += 1;
    } else {
        if ["TABLE", "VIEW"].iter().any(|k| keyword(words.get(at), k)) {
            at += 1;
        }
        // IF [NOT] EXISTS
        if keyword(words.get(at), "IF") {
            at += 1;
            if keyword(words.get(at), "NOT") {
                at += 1;
            }
            at += 1;
        }
    }
    matches!(words.get(at), Some(Token::Word(_)))
        && matches!(words.get(at + 1), Some(Token::Period))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn positions_in_every_form() {
        assert_eq!(
            parse_binlog_pos("mysql-bin.000003:1234"),
            Ok(BinlogAt::File {
                name: "mysql-bin.000003".into(),
                pos: 1234
            })
        );
        assert_eq!(
            parse_binlog_pos("\"mysql-bin|000001.000003:3270\""),
            Ok(BinlogAt::File {
                name: "mysql-bin.000003".into(),
                pos: 3270
            })
        );
        assert_eq!(
            parse_binlog_pos("0-1-42"),
            Ok(BinlogAt::Gtid("0-1-42".into()))
        );
        assert_eq!(
            parse_binlog_pos("mysql-bin.000003:x").map_err(|e| e.to_string()),
            Err("invalid --binlog-pos mysql-bin.000003:x in handle-error operation: the pos should be digital, position string mysql-bin.000003:x".into())
        );
        assert_eq!(
            parse_binlog_pos("a:1:2").map_err(|e| e.to_string()),
            Err("invalid --binlog-pos a:1:2 in handle-error operation: the format should be filename:pos (or a GTID domain-server-sequence for a subtask that uses GTID), position string a:1:2".into())
        );
        assert!(parse_binlog_pos("mysql-bin.000003").is_err());
        assert!(parse_binlog_pos("0-1").is_err());
        assert_eq!(
            BinlogAt::File {
                name: "mysql-bin.000001".into(),
                pos: 4
            }
            .to_string(),
            "(mysql-bin.000001, 4)"
        );
    }

    #[test]
    fn statements_are_split_checked_ddl_and_qualified() {
        assert_eq!(
            split_sqls(&args(&[
                "\"alter table db.t drop primary key;",
                "alter table db.t add unique (c);\""
            ])),
            Ok(vec![
                "alter table db.t drop primary key".to_string(),
                "alter table db.t add unique (c)".to_string()
            ])
        );
        // A semicolon inside a string does not split.
        assert_eq!(
            split_sqls(&args(&[
                "ALTER TABLE db.t ADD COLUMN c VARCHAR(5) DEFAULT ';'"
            ]))
            .map(|s| s.len()),
            Ok(1)
        );
        // MariaDB-only syntax sqlparser cannot read, taken by its keyword.
        assert_eq!(
            split_sqls(&args(&[
                "ALTER TABLE db.t ADD COLUMN IF NOT EXISTS c INT, ALGORITHM=INSTANT, LOCK=NONE WAIT 5"
            ]))
            .map(|s| s.len()),
            Ok(1)
        );
        assert_eq!(
            split_sqls(&args(&[
                "CREATE INDEX i ON db.t (c)",
                "; CREATE DATABASE x"
            ]))
            .map(|s| s.len()),
            Ok(2)
        );
        assert_eq!(
            split_sqls(&args(&["INSERT INTO db.t VALUES (1)"])),
            Err(SqlsError::NotDdl("INSERT INTO db.t VALUES (1)".into()))
        );
        assert_eq!(
            split_sqls(&args(&["ALTER TABLE t ADD COLUMN c INT"])).map_err(|e| e.to_string()),
            Err("injected DDL ALTER TABLE t ADD COLUMN c INT without schema name not valid".into())
        );
        assert_eq!(
            split_sqls(&args(&["DROP TABLE IF EXISTS t"])),
            Err(SqlsError::WithoutSchema("DROP TABLE IF EXISTS t".into()))
        );
        assert_eq!(split_sqls(&args(&[" ; "])), Err(SqlsError::Empty));
        assert!(matches!(
            split_sqls(&args(&["SELEC 1"])),
            Err(SqlsError::Invalid { .. })
        ));
    }
}
