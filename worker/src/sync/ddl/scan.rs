//! DDL that sqlparser cannot parse (MariaDB syntax beyond its MySQL
//! dialect: `ADD COLUMN IF NOT EXISTS`, `ALTER TABLE ... COMMENT`,
//! `RENAME INDEX`, `ENGINE='InnoDB'`, `PAGE_COMPRESSED=1`, ...), understood
//! from sqlparser's tokens alone.
//!
//! Only what the rules need is read: the statement's kind (DM's event
//! types) and where its table and schema names are, as byte ranges of the
//! text. The statement then goes downstream as it was written, with only
//! those names replaced ([`rewrite`]): no syntax tree is rebuilt, so
//! nothing the parser does not know can be lost. Names are found by the
//! statement's grammar (`ALTER TABLE name`, `CREATE TABLE name ... LIKE
//! name`, `RENAME TABLE a TO b, ...`, `DROP TABLE a, b`, `CREATE INDEX i ON
//! name`, `... REFERENCES name`, ...), never by searching the text; a name
//! in a comment or a string is never touched.

use std::ops::Range;

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use dm_rules::EventKind;

/// What a name in the statement stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A table the statement changes: filtered by the rules and routed.
    Table,
    /// A schema the statement changes: filtered and routed.
    Schema,
    /// A table the statement only refers to (`LIKE t`, `REFERENCES t`):
    /// routed and qualified, not filtered.
    Referenced,
}

/// A name found in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAt {
    pub role: Role,
    /// `[table]`, `[schema, table]`, `[schema]`, or `[]` for a schema
    /// statement that names none (the default database).
    pub parts: Vec<String>,
    /// Where it is in the statement (bytes); empty where a name that the
    /// statement leaves out is to be inserted.
    pub span: Range<usize>,
}

/// A DDL's kind and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub kind: EventKind,
    pub names: Vec<NameAt>,
    /// Where the statement ends (before a closing `;` and what follows).
    pub end: usize,
}

/// A DDL's kind and names, as the grammar found them.
struct Found {
    kind: EventKind,
    names: Vec<NameAt>,
}

/// What the tokens say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Ddl(Scanned),
    /// Not a table or schema change (`CREATE TRIGGER`, `ALTER USER`, ...).
    NotDdl,
}

/// A significant token (no whitespace, no comment) and its bytes.
struct Tok {
    token: Token,
    span: Range<usize>,
    /// The text at `span` spells the token (not so for the tokens the
    /// tokenizer reads out of a `/*! ... */` comment).
    located: bool,
}

/// Why a statement's kind and names cannot be read from its tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The tokenizer stopped (an unterminated string or comment, ...).
    #[error("{0}")]
    Tokens(String),
    #[error("more than one statement in one event")]
    SeveralStatements,
    #[error("unbalanced parentheses")]
    UnbalancedParentheses,
    #[error("no `ON table` in the index statement")]
    NoIndexTable,
    #[error("RENAME TABLE without `TO`")]
    RenameWithoutTo,
    #[error("`{0}` is not a schema name")]
    NotASchemaName(String),
    #[error("a name is missing")]
    MissingName,
    #[error("expected a name, found `{0}`")]
    NotAName(String),
    #[error("the name `{0}` is inside an executable comment")]
    NameInComment(String),
}

/// Reads a statement's kind and names from its tokens.
pub fn scan(dialect: &dyn Dialect, sql: &str) -> Result<Scan, ScanError> {
    let (toks, unreadable) = tokens(dialect, sql);
    let classified = classify(&mut Cursor { toks: &toks, at: 0 });
    let found = match (classified, unreadable) {
        (Ok(None), _) => return Ok(Scan::NotDdl),
        (_, Some(e)) => return Err(ScanError::Tokens(e)),
        (Err(e), None) => return Err(e),
        (Ok(Some(f)), None) => f,
    };
    let mut end = sql.len();
    if let Some(i) = toks.iter().position(|t| t.token == Token::SemiColon) {
        if i + 1 < toks.len() {
            return Err(ScanError::SeveralStatements);
        }
        end = toks.get(i).map_or(end, |t| t.span.start);
    }
    let mut depth = 0usize;
    for t in &toks {
        depth = match t.token {
            Token::LParen => depth + 1,
            Token::RParen => depth
                .checked_sub(1)
                .ok_or(ScanError::UnbalancedParentheses)?,
            _ => depth,
        };
    }
    if depth != 0 {
        return Err(ScanError::UnbalancedParentheses);
    }
    Ok(Scan::Ddl(Scanned {
        kind: found.kind,
        names: found.names,
        end,
    }))
}

/// The statement's kind and names; `None` when it changes no table or
/// schema.
fn classify(c: &mut Cursor<'_>) -> Result<Option<Found>, ScanError> {
    let Some(first) = c.word() else {
        return Ok(None);
    };
    let found = match first.as_str() {
        "ALTER" => {
            c.skip_any(&["ONLINE", "OFFLINE", "IGNORE"]);
            match c.word().as_deref() {
                Some("TABLE") => alter_table(c)?,
                Some("DATABASE" | "SCHEMA") => alter_schema(c)?,
                _ => return Ok(None),
            }
        }
        "CREATE" => {
            c.skip_seq(&["OR", "REPLACE"]);
            c.skip_any(&[
                "ONLINE",
                "OFFLINE",
                "TEMPORARY",
                "UNIQUE",
                "FULLTEXT",
                "SPATIAL",
            ]);
            match c.word().as_deref() {
                Some("TABLE") => create_table(c)?,
                Some("INDEX" | "KEY") => index_on(c, EventKind::CreateIndex)?,
                Some("DATABASE" | "SCHEMA") => {
                    c.skip_seq(&["IF", "NOT", "EXISTS"]);
                    schema_named(c, EventKind::CreateDatabase)?
                }
                _ => return Ok(None),
            }
        }
        "DROP" => {
            c.skip_any(&["TEMPORARY"]);
            match c.word().as_deref() {
                Some("TABLE" | "TABLES") => table_list(c, EventKind::DropTable)?,
                Some("VIEW") => table_list(c, EventKind::DropView)?,
                Some("INDEX" | "KEY") => index_on(c, EventKind::DropIndex)?,
                Some("DATABASE" | "SCHEMA") => {
                    c.skip_seq(&["IF", "EXISTS"]);
                    schema_named(c, EventKind::DropDatabase)?
                }
                _ => return Ok(None),
            }
        }
        "RENAME" => match c.word().as_deref() {
            Some("TABLE" | "TABLES") => rename_tables(c)?,
            _ => return Ok(None),
        },
        "TRUNCATE" => {
            c.skip_any(&["TABLE"]);
            Found {
                kind: EventKind::TruncateTable,
                names: vec![c.name(Role::Table)?],
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(found))
}

/// `sql` up to `end` with every name of `names` replaced by its new text
/// (`(span, text)` pairs; spans must not overlap).
pub fn rewrite(sql: &str, end: usize, mut names: Vec<(Range<usize>, String)>) -> String {
    names.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(sql.len() + 32);
    let mut from = 0;
    for (span, text) in names {
        out.push_str(sql.get(from..span.start).unwrap_or_default());
        if span.is_empty() {
            // An inserted name stands apart from what surrounds it.
            out.push(' ');
            out.push_str(&text);
            if !sql
                .get(span.end..)
                .unwrap_or_default()
                .starts_with(char::is_whitespace)
            {
                out.push(' ');
            }
        } else {
            out.push_str(&text);
        }
        from = span.end;
    }
    out.push_str(sql.get(from..end).unwrap_or_default());
    out
}

/// `ALTER TABLE [IF EXISTS] name [WAIT n | NOWAIT] spec, ...`.
fn alter_table(c: &mut Cursor<'_>) -> Result<Found, ScanError> {
    c.skip_seq(&["IF", "EXISTS"]);
    let mut names = vec![c.name(Role::Table)?];
    let mut kind = EventKind::AlterTable;
    let mut depth = 0usize;
    while let Some(tok) = c.next() {
        match &tok.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon => break,
            _ if is_kw(&tok.token, "REFERENCES") => names.push(c.name(Role::Referenced)?),
            // `EXCHANGE PARTITION p WITH TABLE t`.
            _ if is_kw(&tok.token, "WITH") && c.peek_word().as_deref() == Some("TABLE") => {
                c.word();
                names.push(c.name(Role::Referenced)?);
            }
            // `RENAME [TO | AS] new_name`, not `RENAME COLUMN|INDEX|KEY`.
            _ if depth == 0 && is_kw(&tok.token, "RENAME") => match c.peek_word().as_deref() {
                Some("COLUMN" | "INDEX" | "KEY") => {}
                Some("TO" | "AS") => {
                    c.word();
                    names.push(c.name(Role::Table)?);
                    kind = EventKind::RenameTable;
                }
                _ => {
                    names.push(c.name(Role::Table)?);
                    kind = EventKind::RenameTable;
                }
            },
            _ => {}
        }
    }
    Ok(Found { kind, names })
}

/// `CREATE TABLE [IF NOT EXISTS] name { LIKE t | (LIKE t) | (...) ... }`.
fn create_table(c: &mut Cursor<'_>) -> Result<Found, ScanError> {
    c.skip_seq(&["IF", "NOT", "EXISTS"]);
    let mut names = vec![c.name(Role::Table)?];
    let parenthesized = c.peek().is_some_and(|t| t.token == Token::LParen)
        && c.toks
            .get(c.at + 1)
            .is_some_and(|t| is_kw(&t.token, "LIKE"));
    if parenthesized {
        c.next();
    }
    if c.peek_word().as_deref() == Some("LIKE") {
        c.word();
        names.push(c.name(Role::Referenced)?);
    }
    let mut depth = 0usize;
    while let Some(tok) = c.next() {
        match &tok.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon => break,
            t if is_kw(t, "REFERENCES") => names.push(c.name(Role::Referenced)?),
            // `CREATE TABLE ... SELECT`: the rows come as row events.
            t if is_kw(t, "SELECT") && depth == 0 => break,
            _ => {}
        }
    }
    Ok(Found {
        kind: EventKind::CreateTable,
        names,
    })
}

/// `... INDEX [IF [NOT] EXISTS] name [USING type] ON table ...`.
fn index_on(c: &mut Cursor<'_>, kind: EventKind) -> Result<Found, ScanError> {
    while let Some(tok) = c.next() {
        match &tok.token {
            Token::LParen | Token::SemiColon => break,
            _ if is_kw(&tok.token, "ON") => {
                return Ok(Found {
                    kind,
                    names: vec![c.name(Role::Table)?],
                })
            }
            _ => {}
        }
    }
    Err(ScanError::NoIndexTable)
}

/// `DROP TABLE [IF EXISTS] a [, b ...] [WAIT n | NOWAIT] [RESTRICT | CASCADE]`.
fn table_list(c: &mut Cursor<'_>, kind: EventKind) -> Result<Found, ScanError> {
    c.skip_seq(&["IF", "EXISTS"]);
    let mut names = vec![c.name(Role::Table)?];
    while c.eat(&Token::Comma) {
        names.push(c.name(Role::Table)?);
    }
    Ok(Found { kind, names })
}

/// `RENAME TABLE [IF EXISTS] a [WAIT n | NOWAIT] TO b [, c TO d ...]`.
fn rename_tables(c: &mut Cursor<'_>) -> Result<Found, ScanError> {
    c.skip_seq(&["IF", "EXISTS"]);
    let mut names = Vec::new();
    loop {
        names.push(c.name(Role::Table)?);
        if c.peek_word().as_deref() == Some("WAIT") {
            c.word();
            c.next();
        }
        c.skip_any(&["NOWAIT"]);
        if c.word().as_deref() != Some("TO") {
            return Err(ScanError::RenameWithoutTo);
        }
        names.push(c.name(Role::Table)?);
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    Ok(Found {
        kind: EventKind::RenameTable,
        names,
    })
}

/// `CREATE|DROP DATABASE name`.
fn schema_named(c: &mut Cursor<'_>, kind: EventKind) -> Result<Found, ScanError> {
    let mut name = c.name(Role::Schema)?;
    if name.parts.len() != 1 {
        return Err(ScanError::NotASchemaName(name.parts.join(".")));
    }
    name.role = Role::Schema;
    Ok(Found {
        kind,
        names: vec![name],
    })
}

/// `ALTER DATABASE [name] options`: without a name it changes the default
/// database, which is then named explicitly.
fn alter_schema(c: &mut Cursor<'_>) -> Result<Found, ScanError> {
    const OPTIONS: &[&str] = &["DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT"];
    let unnamed = c.peek_word().is_some_and(|w| OPTIONS.contains(&w.as_str()));
    let name = if unnamed {
        let at = c.last_end();
        NameAt {
            role: Role::Schema,
            parts: Vec::new(),
            span: at..at,
        }
    } else {
        schema_named(c, EventKind::Unclassified)?.names.remove(0)
    };
    Ok(Found {
        kind: EventKind::Unclassified,
        names: vec![name],
    })
}

/// Whether `token` is the unquoted word `kw` (any case).
fn is_kw(token: &Token, kw: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

/// The statement's significant tokens with their byte ranges; when the
/// tokenizer stops early, those before the place and why.
fn tokens(dialect: &dyn Dialect, sql: &str) -> (Vec<Tok>, Option<String>) {
    let mut all = Vec::new();
    let unreadable = Tokenizer::new(dialect, sql)
        .tokenize_with_location_into_buf(&mut all)
        .err()
        .map(|e| e.to_string());
    let lines = line_starts(sql);
    let mut out = Vec::with_capacity(all.len());
    for t in all {
        if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        let span = byte_at(sql, &lines, t.span.start)..byte_at(sql, &lines, t.span.end);
        let located = sql
            .get(span.clone())
            .is_some_and(|text| spells(text, &t.token));
        out.push(Tok {
            token: t.token,
            span,
            located,
        });
    }
    (out, unreadable)
}

/// Whether `text` is how `token` is written (for words; other tokens are
/// never replaced).
fn spells(text: &str, token: &Token) -> bool {
    match token {
        Token::Word(w) => match w.quote_style {
            None => text == w.value,
            Some(q) => {
                let inner = text
                    .strip_prefix(q)
                    .and_then(|t| t.strip_suffix(q))
                    .unwrap_or_default();
                !text.is_empty() && inner.replace(&format!("{q}{q}"), &q.to_string()) == w.value
            }
        },
        _ => true,
    }
}

/// Byte offset of every line's start.
fn line_starts(sql: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The byte offset of a tokenizer location (1-based line and character
/// column, a newline starting a new line).
fn byte_at(sql: &str, lines: &[usize], at: Location) -> usize {
    let line = usize::try_from(at.line.saturating_sub(1)).unwrap_or(usize::MAX);
    let Some(start) = lines.get(line).copied() else {
        return sql.len();
    };
    let column = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
    sql.get(start..)
        .unwrap_or_default()
        .char_indices()
        .nth(column)
        .map_or(sql.len(), |(i, _)| start + i)
}

/// Walks the significant tokens.
struct Cursor<'a> {
    toks: &'a [Tok],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<&'a Tok> {
        let tok = self.toks.get(self.at)?;
        self.at += 1;
        Some(tok)
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.at)
    }

    /// The next token as an uppercased keyword, consumed if it is one.
    fn word(&mut self) -> Option<String> {
        let w = self.peek_word()?;
        self.at += 1;
        Some(w)
    }

    fn peek_word(&self) -> Option<String> {
        match &self.peek()?.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// Consumes the next words while they are among `words`.
    fn skip_any(&mut self, words: &[&str]) {
        while self
            .peek_word()
            .is_some_and(|w| words.contains(&w.as_str()))
        {
            self.at += 1;
        }
    }

    /// Consumes `words` if they come next, all of them.
    fn skip_seq(&mut self, words: &[&str]) {
        let all = words.iter().enumerate().all(|(i, w)| {
            matches!(self.toks.get(self.at + i).map(|t| &t.token),
                Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
        });
        if all {
            self.at += words.len();
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek().is_some_and(|t| t.token == *token) {
            self.at += 1;
            return true;
        }
        false
    }

    /// Where the last consumed token ended.
    fn last_end(&self) -> usize {
        self.at
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(0, |t| t.span.end)
    }

    /// `ident` or `ident.ident`.
    fn name(&mut self, role: Role) -> Result<NameAt, ScanError> {
        let mut parts = Vec::new();
        let mut span: Option<Range<usize>> = None;
        loop {
            let tok = self.next().ok_or(ScanError::MissingName)?;
            let Token::Word(w) = &tok.token else {
                return Err(ScanError::NotAName(tok.token.to_string()));
            };
            if !tok.located {
                return Err(ScanError::NameInComment(w.value.clone()));
            }
            parts.push(w.value.clone());
            let start = span.as_ref().map_or(tok.span.start, |s| s.start);
            span = Some(start..tok.span.end);
            if parts.len() == 2 || !self.eat(&Token::Period) {
                break;
            }
        }
        Ok(NameAt {
            role,
            parts,
            span: span.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;

    /// (role, parts, the text at the span) of every name, and the kind.
    fn names(sql: &str) -> (EventKind, Vec<(Role, Vec<String>, String)>) {
        let Ok(Scan::Ddl(s)) = scan(&MySqlDialect {}, sql) else {
            panic!("{sql}: not a DDL");
        };
        let names = s
            .names
            .iter()
            .map(|n| (n.role, n.parts.clone(), sql[n.span.clone()].to_string()))
            .collect();
        (s.kind, names)
    }

    fn n(role: Role, parts: &[&str], text: &str) -> (Role, Vec<String>, String) {
        (
            role,
            parts.iter().map(|p| p.to_string()).collect(),
            text.to_string(),
        )
    }

    #[test]
    fn names_are_found_by_the_statements_grammar() {
        assert_eq!(
            names("CREATE TABLE IF NOT EXISTS `a``b` LIKE db.`t`"),
            (
                EventKind::CreateTable,
                vec![
                    n(Role::Table, &["a`b"], "`a``b`"),
                    n(Role::Referenced, &["db", "t"], "db.`t`")
                ]
            )
        );
        assert_eq!(
            names("CREATE TEMPORARY TABLE t2 (LIKE t)"),
            (
                EventKind::CreateTable,
                vec![
                    n(Role::Table, &["t2"], "t2"),
                    n(Role::Referenced, &["t"], "t")
                ]
            )
        );
        assert_eq!(
            names("ALTER TABLE t EXCHANGE PARTITION p WITH TABLE t9"),
            (
                EventKind::AlterTable,
                vec![
                    n(Role::Table, &["t"], "t"),
                    n(Role::Referenced, &["t9"], "t9")
                ]
            )
        );
        assert_eq!(
            names("DROP INDEX IF EXISTS `on` ON `t` LOCK=NONE"),
            (EventKind::DropIndex, vec![n(Role::Table, &["t"], "`t`")])
        );
        assert_eq!(
            names("TRUNCATE db . t"),
            (
                EventKind::TruncateTable,
                vec![n(Role::Table, &["db", "t"], "db . t")]
            )
        );
        assert_eq!(
            names("DROP SCHEMA IF EXISTS d"),
            (EventKind::DropDatabase, vec![n(Role::Schema, &["d"], "d")])
        );
    }

    #[test]
    fn only_names_change_and_inserted_names_stand_apart() {
        assert_eq!(
            rewrite(
                "ALTER TABLE t COMMENT 't'",
                25,
                vec![(12..13, "`d`.`t`".into())]
            ),
            "ALTER TABLE `d`.`t` COMMENT 't'"
        );
        assert_eq!(
            rewrite(
                "ALTER DATABASE/**/CHARSET x",
                27,
                vec![(14..14, "`d`".into())]
            ),
            "ALTER DATABASE `d` /**/CHARSET x"
        );
    }
}
