//! `ALTER TABLE` specifications sqlparser's MySQL dialect does not read,
//! found in the statement's tokens: table options (`ENGINE=...`,
//! `COMMENT ...`, `ROW_FORMAT=...`, `FORCE`, ...), `ALTER INDEX ...
//! INVISIBLE`, `ENABLE|DISABLE KEYS`, `ORDER BY`, which change nothing a
//! row needs; the table's default character set (`[DEFAULT] CHARSET=`,
//! `COLLATE=`), which new columns take; `RENAME INDEX|KEY a TO b`;
//! MariaDB's `ADD INDEX IF NOT EXISTS` and `DROP INDEX IF EXISTS`; and
//! `MODIFY|CHANGE|DROP [COLUMN] IF EXISTS`; `ALTER ONLINE|IGNORE TABLE`;
//! `ADD [COLUMN] (c1 ..., c2 ...)`, split
//! into one `ADD COLUMN` each. The other specifications are handed back
//! as text, for sqlparser.

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::upstream::statement::TextOffsets;

/// An `ALTER TABLE` split into its specifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitAlter {
    /// `ALTER TABLE name`, as written (without `ONLINE` / `IGNORE`).
    pub head: String,
    /// The table's name as written (`t`, `s.t`), unquoted.
    pub table: Vec<String>,
    pub specs: Vec<Spec>,
}

/// One specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    /// A table option that changes nothing a row needs.
    NoChange,
    /// `[DEFAULT] CHARACTER SET|CHARSET [=] x` / `[DEFAULT] COLLATE [=] y`.
    Charset {
        charset: Option<String>,
        collation: Option<String>,
    },
    /// `CONVERT TO CHARACTER SET ...`: every text column changes (and
    /// may change type), which the tracker does not follow.
    Convert(String),
    RenameKey {
        from: String,
        to: String,
    },
    /// `DROP INDEX|KEY IF EXISTS name`.
    DropKeyIfExists(String),
    /// `ADD ... INDEX|KEY IF NOT EXISTS name (...)`: the specification
    /// without `IF NOT EXISTS`, to apply unless a key `name` exists.
    AddKeyIfNotExists {
        name: String,
        spec: String,
    },
    /// MariaDB's `MODIFY|CHANGE|DROP [COLUMN] IF EXISTS name ...`: the
    /// specification without `IF EXISTS`, to apply when a column `name`
    /// exists.
    ColumnIfExists {
        name: String,
        spec: String,
    },
    /// Any other specification, as written.
    Other(String),
}

const NO_CHANGE: &[&str] = &[
    "ENGINE",
    "COMMENT",
    "ROW_FORMAT",
    "AUTO_INCREMENT",
    "KEY_BLOCK_SIZE",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "PACK_KEYS",
    "CHECKSUM",
    "MAX_ROWS",
    "MIN_ROWS",
    "AVG_ROW_LENGTH",
    "DELAY_KEY_WRITE",
    "COMPRESSION",
    "ENCRYPTION",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "TRANSACTIONAL",
    "FORCE",
    "ALGORITHM",
    "LOCK",
];

/// `sql` split, when it is an `ALTER TABLE`; `None` otherwise.
pub(crate) fn split(sql: &str) -> Option<SplitAlter> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let tokens: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut offsets = TextOffsets::new(sql);
    let mut i = 0;
    if !is(tokens.first()?, "ALTER") {
        return None;
    }
    i += 1;
    while tokens
        .get(i)
        .is_some_and(|t| is(t, "ONLINE") || is(t, "IGNORE"))
    {
        i += 1;
    }
    if !is(tokens.get(i)?, "TABLE") {
        return None;
    }
    i += 1;
    let mut table = vec![word(tokens.get(i)?)?];
    i += 1;
    if tokens.get(i).is_some_and(|t| t.token == Token::Period) {
        table.push(word(tokens.get(i + 1)?)?);
        i += 2;
    }
    let name_start = offsets.offset(tokens.get(i - table.len() * 2 + 1)?.span.start)?;
    let body_start = match tokens.get(i) {
        Some(t) => offsets.offset(t.span.start)?,
        None => sql.len(),
    };
    let head = format!(
        "ALTER TABLE {}",
        sql.get(name_start..body_start).unwrap_or_default().trim()
    );
    // Specifications: split at commas outside parentheses.
    let mut specs = Vec::new();
    for spec_tokens in top_level_parts(tokens.get(i..)?) {
        if let (Some(first), Some(last)) = (spec_tokens.first(), spec_tokens.last()) {
            let from = offsets.offset(first.span.start)?;
            let to = offsets.offset(last.span.end)?;
            let text = sql.get(from..to)?.to_string();
            match column_list(spec_tokens, sql, &mut offsets) {
                Some(columns) => specs.extend(columns),
                None => specs.push(spec(spec_tokens, text)),
            }
        }
    }
    Some(SplitAlter { head, table, specs })
}

/// `ADD [COLUMN] (c1 ..., c2 ...)`: one `ADD COLUMN` per column; `None`
/// for any other specification.
fn column_list(
    tokens: &[&TokenWithSpan],
    sql: &str,
    offsets: &mut TextOffsets<'_>,
) -> Option<Vec<Spec>> {
    let open = match tokens {
        [add, paren, ..] if is(add, "ADD") && paren.token == Token::LParen => 1,
        [add, column, paren, ..]
            if is(add, "ADD") && is(column, "COLUMN") && paren.token == Token::LParen =>
        {
            2
        }
        _ => return None,
    };
    if tokens.last()?.token != Token::RParen {
        return None;
    }
    let inner = tokens.get(open + 1..tokens.len() - 1)?;
    let mut out = Vec::new();
    for part in top_level_parts(inner) {
        let from = offsets.offset(part.first()?.span.start)?;
        let to = offsets.offset(part.last()?.span.end)?;
        out.push(Spec::Other(format!("ADD COLUMN {}", sql.get(from..to)?)));
    }
    Some(out)
}

/// `tokens` split at the commas outside parentheses, up to the end or a
/// `;` outside them.
fn top_level_parts<'t, 'a>(tokens: &'t [&'a TokenWithSpan]) -> Vec<&'t [&'a TokenWithSpan]> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (j, token) in tokens.iter().enumerate() {
        match token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                parts.extend(tokens.get(start..j));
                start = j + 1;
            }
            Token::SemiColon => {
                parts.extend(tokens.get(start..j));
                return parts;
            }
            _ => {}
        }
    }
    parts.extend(tokens.get(start..));
    parts
}

fn spec(tokens: &[&TokenWithSpan], text: String) -> Spec {
    let at = |i: usize, k: &str| tokens.get(i).is_some_and(|t| is(t, k));
    let value = |i: usize| -> Option<String> {
        let i = if tokens.get(i).is_some_and(|t| t.token == Token::Eq) {
            i + 1
        } else {
            i
        };
        tokens.get(i).and_then(|t| match &t.token {
            Token::Word(w) => Some(w.value.clone()),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        })
    };
    let skip_default = usize::from(at(0, "DEFAULT"));
    let d = skip_default;
    if at(d, "CHARSET") || (at(d, "CHARACTER") && at(d + 1, "SET")) {
        let v = if at(d, "CHARSET") { d + 1 } else { d + 2 };
        let charset = value(v);
        let after = v + 1 + usize::from(tokens.get(v).is_some_and(|t| t.token == Token::Eq));
        let collation = if at(after, "COLLATE") {
            value(after + 1)
        } else {
            None
        };
        return Spec::Charset { charset, collation };
    }
    // An index made invisible or ignored, keys enabled or disabled, a
    // tablespace discarded or imported, rows ordered: no definition
    // changes.
    if (at(0, "ALTER") && (at(1, "INDEX") || at(1, "KEY")))
        || ((at(0, "ENABLE") || at(0, "DISABLE")) && at(1, "KEYS"))
        || ((at(0, "DISCARD") || at(0, "IMPORT")) && at(1, "TABLESPACE"))
        || (at(0, "ORDER") && at(1, "BY"))
    {
        return Spec::NoChange;
    }
    if at(d, "COLLATE") {
        return Spec::Charset {
            charset: None,
            collation: value(d + 1),
        };
    }
    if at(0, "CONVERT") {
        return Spec::Convert(text);
    }
    if tokens
        .first()
        .is_some_and(|t| NO_CHANGE.iter().any(|k| is(t, k)))
    {
        return Spec::NoChange;
    }
    if at(0, "RENAME") && (at(1, "INDEX") || at(1, "KEY")) && at(3, "TO") {
        if let (Some(from), Some(to)) = (value(2), value(4)) {
            return Spec::RenameKey { from, to };
        }
    }
    if at(0, "DROP") && (at(1, "INDEX") || at(1, "KEY")) && at(2, "IF") && at(3, "EXISTS") {
        if let Some(name) = value(4) {
            return Spec::DropKeyIfExists(name);
        }
    }
    if at(0, "ADD") {
        if let Some(k) = (1..4).find(|&k| at(k, "IF") && at(k + 1, "NOT") && at(k + 2, "EXISTS")) {
            let keyed = (1..k).any(|i| at(i, "INDEX") || at(i, "KEY"));
            if keyed {
                if let Some(name) = value(k + 3) {
                    return Spec::AddKeyIfNotExists {
                        name,
                        spec: without(tokens, k..k + 3),
                    };
                }
            }
        }
    }
    if at(0, "MODIFY") || at(0, "CHANGE") || at(0, "DROP") {
        let k = if at(1, "COLUMN") { 2 } else { 1 };
        if at(k, "IF") && at(k + 1, "EXISTS") {
            if let Some(name) = value(k + 2) {
                return Spec::ColumnIfExists {
                    name,
                    spec: without(tokens, k..k + 2),
                };
            }
        }
    }
    Spec::Other(text)
}

/// The tokens' text without those in `skipped`.
fn without(tokens: &[&TokenWithSpan], skipped: std::ops::Range<usize>) -> String {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.contains(i))
        .map(|(_, t)| t.token.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is(t: &TokenWithSpan, keyword: &str) -> bool {
    matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

fn word(t: &TokenWithSpan) -> Option<String> {
    match &t.token {
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    }
}

/// An `ALTER DATABASE|SCHEMA [name] ...` (sqlparser's MySQL dialect does
/// not read it): the schema it names (`None`: the current one) and the
/// default character set it sets, if any.
pub(crate) fn alter_schema(sql: &str) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let tokens: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let at = |i: usize, k: &str| tokens.get(i).is_some_and(|t| is(t, k));
    if !(at(0, "ALTER") && (at(1, "DATABASE") || at(1, "SCHEMA"))) {
        return None;
    }
    let clause = |i: usize| {
        at(i, "DEFAULT")
            || at(i, "CHARSET")
            || at(i, "CHARACTER")
            || at(i, "COLLATE")
            || at(i, "COMMENT")
            || at(i, "UPGRADE")
            || at(i, "READ")
            || at(i, "ENCRYPTION")
    };
    let (name, mut i) = if clause(2) {
        (None, 2)
    } else {
        (tokens.get(2).and_then(|t| word(t)), 3)
    };
    let value = |i: usize| -> (Option<String>, usize) {
        let i = if tokens.get(i).is_some_and(|t| t.token == Token::Eq) {
            i + 1
        } else {
            i
        };
        let v = tokens.get(i).and_then(|t| match &t.token {
            Token::Word(w) => Some(w.value.clone()),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        });
        (v, i + 1)
    };
    let mut charset = None;
    let mut collation = None;
    while i < tokens.len() {
        if at(i, "DEFAULT") {
            i += 1;
        } else if at(i, "CHARSET") {
            (charset, i) = value(i + 1);
        } else if at(i, "CHARACTER") && at(i + 1, "SET") {
            (charset, i) = value(i + 2);
        } else if at(i, "COLLATE") {
            (collation, i) = value(i + 1);
        } else {
            i += 1;
        }
    }
    Some((name, charset, collation))
}
