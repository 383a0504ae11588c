//! sqlparser's syntax tree read into the tracker's definitions: a column
//! definition into a [`ColumnDef`] (its type in one canonical form, its
//! character set resolved against the table's), key constraints into
//! named keys, a `CREATE TABLE` into a [`TableDef`].

use sqlparser::ast::{
    self, ColumnOption, CreateTable, CreateTableOptions, DataType, EnumMember, Expr,
    GeneratedExpressionMode, IndexColumn, ObjectName, ObjectNamePart, SqlOption, TableConstraint,
};

use super::error::Subject;
use super::table::{Charset, ColumnDef, Generated, Key, TableDef};
use super::SchemaError;
use crate::upstream::value::BINARY;

/// What a column definition says about the table's keys.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnKeys {
    pub primary: bool,
    pub unique: bool,
}

/// A key a constraint defines; unnamed keys are named when added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySpec {
    Primary(Vec<String>),
    Unique(Option<String>, Vec<String>),
    Index(Option<String>, Vec<String>),
    /// A foreign key: the server indexes its columns unless a key
    /// already starts with them, naming the index after the constraint,
    /// else the key's own name, else its first column.
    Foreign(Option<String>, Vec<String>),
}

/// `name` as (schema, table), unqualified names in `current_schema`.
pub(crate) fn table_name(
    name: &ObjectName,
    current_schema: &str,
    sql: &str,
) -> Result<(String, String), SchemaError> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(t)] => Ok((current_schema.to_string(), t.value.clone())),
        [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(t)] => {
            Ok((s.value.clone(), t.value.clone()))
        }
        _ => Err(SchemaError::BadName {
            sql: sql.to_string(),
            name: name.to_string(),
        }),
    }
}

/// The last part of `name` (a schema's or an index's name).
pub(crate) fn last_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.clone(),
        _ => name.to_string(),
    }
}

/// A column definition, its character set resolved against the table's
/// default, and what it says about keys.
pub(crate) fn column(def: &ast::ColumnDef, table_charset: &Charset) -> (ColumnDef, ColumnKeys) {
    let sql_type = def.data_type.to_string();
    let (mut type_name, unsigned, members) = canonical_type(&def.data_type);
    // NCHAR and NVARCHAR: CHAR and VARCHAR in utf8mb3.
    let national = ["nchar", "nvarchar"]
        .iter()
        .find_map(|n| type_name.strip_prefix(n).map(|rest| (*n, rest.to_string())));
    if let Some((n, rest)) = &national {
        type_name = match (*n, rest.as_str()) {
            ("nchar", "") => "char(1)".to_string(),
            ("nchar", rest) => format!("char{rest}"),
            (_, rest) => format!("varchar{rest}"),
        };
    }
    let mut nullable = true;
    let mut keys = ColumnKeys::default();
    let mut charset = None;
    let mut collation = None;
    let mut generated = None;
    for option in &def.options {
        match &option.option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull => nullable = false,
            ColumnOption::PrimaryKey(_) => {
                keys.primary = true;
                nullable = false;
            }
            ColumnOption::Unique(_) => keys.unique = true,
            ColumnOption::CharacterSet(name) => charset = Some(last_name(name)),
            ColumnOption::Collation(name) => collation = Some(last_name(name)),
            ColumnOption::Generated {
                generation_expr: Some(expr),
                generation_expr_mode,
                ..
            } => {
                let mode = match generation_expr_mode {
                    Some(GeneratedExpressionMode::Stored) => Generated::Stored,
                    _ => Generated::Virtual,
                };
                generated = Some((mode, expr.to_string()));
            }
            _ => {}
        }
    }
    let mut charset = match text_kind(&type_name) {
        TextKind::Text => Some(
            Charset::from_clauses(charset.as_deref(), collation.as_deref())
                .or_else(|| national.as_ref().map(|_| Charset::new("utf8mb3", None)))
                .unwrap_or_else(|| table_charset.clone()),
        ),
        TextKind::Bytes => Some(Charset::new(BINARY, None)),
        TextKind::None => None,
    };
    // Text in the binary character set is a byte string type.
    if charset.as_ref().is_some_and(|c| c.charset == BINARY) {
        type_name = binary_type(&type_name);
        charset = Some(Charset::new(BINARY, None));
    }
    let column = ColumnDef {
        name: def.name.value.clone(),
        sql_type,
        type_name,
        unsigned,
        charset,
        members,
        nullable,
        generated,
    };
    (column, keys)
}

/// The byte string type a text type in the binary character set is.
fn binary_type(type_name: &str) -> String {
    let (base, rest) = type_name
        .find('(')
        .map_or((type_name, ""), |at| type_name.split_at(at));
    let base = match base {
        "char" => "binary",
        "varchar" => "varbinary",
        "tinytext" => "tinyblob",
        "text" => "blob",
        "mediumtext" => "mediumblob",
        "longtext" => "longblob",
        other => other,
    };
    format!("{base}{rest}")
}

enum TextKind {
    Text,
    Bytes,
    None,
}

fn text_kind(type_name: &str) -> TextKind {
    match type_name.split(['(', ' ']).next().unwrap_or_default() {
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => {
            TextKind::Text
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => TextKind::Bytes,
        _ => TextKind::None,
    }
}

/// A type in one form (lowercase, synonyms resolved, integer display
/// widths dropped, implied lengths written out), whether it is unsigned
/// (or zerofill, which implies it), and ENUM/SET members.
pub(crate) fn canonical_type(data_type: &DataType) -> (String, bool, Vec<String>) {
    match data_type {
        DataType::Enum(members, _) => {
            let members: Vec<String> = members
                .iter()
                .map(|m| match m {
                    EnumMember::Name(n) | EnumMember::NamedValue(n, _) => n.clone(),
                })
                .collect();
            return (format!("enum({})", member_list(&members)), false, members);
        }
        DataType::Set(members) => {
            return (
                format!("set({})", member_list(members)),
                false,
                members.clone(),
            )
        }
        _ => {}
    }
    let words = super::type_words::type_words(data_type);
    (words.name(), words.unsigned || words.zerofill, Vec::new())
}

fn member_list(members: &[String]) -> String {
    members
        .iter()
        .map(|m| format!("'{}'", m.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The key a table constraint defines (`None`: checks).
pub(crate) fn key_spec(constraint: &TableConstraint) -> Option<KeySpec> {
    match constraint {
        TableConstraint::PrimaryKey(pk) => Some(KeySpec::Primary(index_columns(&pk.columns))),
        TableConstraint::Unique(u) => Some(KeySpec::Unique(
            u.index_name
                .as_ref()
                .or(u.name.as_ref())
                .map(|i| i.value.clone()),
            index_columns(&u.columns),
        )),
        TableConstraint::Index(i) => Some(KeySpec::Index(
            i.name.as_ref().map(|n| n.value.clone()),
            index_columns(&i.columns),
        )),
        TableConstraint::ForeignKey(f) => Some(KeySpec::Foreign(
            f.name
                .as_ref()
                .or(f.index_name.as_ref())
                .map(|n| n.value.clone()),
            f.columns.iter().map(|c| c.value.clone()).collect(),
        )),
        TableConstraint::FulltextOrSpatial(f) => Some(KeySpec::Index(
            f.opt_index_name.as_ref().map(|n| n.value.clone()),
            index_columns(&f.columns),
        )),
        _ => None,
    }
}

/// An index's column names (a prefix length is not part of the name).
pub(crate) fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(i) => i.value.clone(),
            Expr::CompoundIdentifier(parts) => {
                parts.last().map(|i| i.value.clone()).unwrap_or_default()
            }
            Expr::Function(f) => last_name(&f.name),
            other => other.to_string().replace('`', ""),
        })
        .collect()
}

/// The table's default character set from its options, if it names one.
pub(crate) fn table_charset(options: &CreateTableOptions) -> Option<Charset> {
    let list = match options {
        CreateTableOptions::Plain(list)
        | CreateTableOptions::With(list)
        | CreateTableOptions::Options(list)
        | CreateTableOptions::TableProperties(list) => list,
        CreateTableOptions::None => return None,
    };
    let mut charset = None;
    let mut collation = None;
    for option in list {
        if let SqlOption::KeyValue { key, value } = option {
            let value = value.to_string().trim_matches(['\'', '"', '`']).to_string();
            match key.value.to_ascii_uppercase().as_str() {
                "DEFAULT CHARSET" | "CHARSET" | "DEFAULT CHARACTER SET" | "CHARACTER SET" => {
                    charset = Some(value)
                }
                "DEFAULT COLLATE" | "COLLATE" => collation = Some(value),
                _ => {}
            }
        }
    }
    Charset::from_clauses(charset.as_deref(), collation.as_deref())
}

/// A `CREATE TABLE` with its own columns (not `LIKE`) as a definition of
/// `schema`.`name`; `schema_charset`: the default of the schema it is
/// created in. Version 0: the tracker sets it.
pub(crate) fn create_table(
    ct: &CreateTable,
    schema: &str,
    name: &str,
    schema_charset: &Charset,
) -> TableDef {
    let charset = table_charset(&ct.table_options).unwrap_or_else(|| schema_charset.clone());
    let mut table = TableDef {
        schema: schema.to_string(),
        name: name.to_string(),
        version: 0,
        columns: Vec::new(),
        primary_key: Vec::new(),
        unique_keys: Vec::new(),
        indexes: Vec::new(),
        charset,
    };
    for def in &ct.columns {
        let (column, keys) = column(def, &table.charset);
        let name = column.name.clone();
        table.columns.push(column);
        add_column_keys(&mut table, &name, keys);
    }
    // Foreign keys last: any key of the statement may already cover them.
    let specs: Vec<KeySpec> = ct.constraints.iter().filter_map(key_spec).collect();
    let (foreign, own): (Vec<KeySpec>, Vec<KeySpec>) = specs
        .into_iter()
        .partition(|s| matches!(s, KeySpec::Foreign(..)));
    for spec in own.into_iter().chain(foreign) {
        add_key(&mut table, spec);
    }
    table
}

/// The keys a column definition declares (`PRIMARY KEY`, `UNIQUE`).
pub(crate) fn add_column_keys(table: &mut TableDef, column: &str, keys: ColumnKeys) {
    if keys.primary {
        add_key(table, KeySpec::Primary(vec![column.to_string()]));
    }
    if keys.unique {
        add_key(table, KeySpec::Unique(None, vec![column.to_string()]));
    }
}

/// Adds a key; an unnamed one is named as the server names it: after its
/// first column, with `_2`, `_3`, ... when that name is taken. Primary
/// key columns become NOT NULL.
pub(crate) fn add_key(table: &mut TableDef, spec: KeySpec) {
    match spec {
        KeySpec::Primary(columns) => {
            for c in &mut table.columns {
                if columns.iter().any(|k| k.eq_ignore_ascii_case(&c.name)) {
                    c.nullable = false;
                }
            }
            table.primary_key = columns;
        }
        KeySpec::Unique(name, columns) => {
            let name = name.unwrap_or_else(|| fresh_name(table, &columns));
            table.unique_keys.push(Key { name, columns });
        }
        KeySpec::Index(name, columns) => {
            let name = name.unwrap_or_else(|| fresh_name(table, &columns));
            table.indexes.push(Key { name, columns });
        }
        KeySpec::Foreign(name, columns) => {
            let starts_with = |key: &[String]| {
                key.len() >= columns.len()
                    && key
                        .iter()
                        .zip(&columns)
                        .all(|(k, c)| k.eq_ignore_ascii_case(c))
            };
            let covered = starts_with(&table.primary_key)
                || table
                    .unique_keys
                    .iter()
                    .chain(&table.indexes)
                    .any(|k| starts_with(&k.columns));
            if !covered {
                let name = name.unwrap_or_else(|| fresh_name(table, &columns));
                table.indexes.push(Key { name, columns });
            }
        }
    }
}

fn fresh_name(table: &TableDef, columns: &[String]) -> String {
    let base = columns.first().cloned().unwrap_or_else(|| "key".into());
    let taken = |n: &str| {
        n.eq_ignore_ascii_case("PRIMARY")
            || table
                .unique_keys
                .iter()
                .chain(&table.indexes)
                .any(|k| k.name.eq_ignore_ascii_case(n))
    };
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

impl TableDef {
    /// The definition a `CREATE TABLE` statement (such as `SHOW CREATE
    /// TABLE` prints) gives `schema`.`its name`; `schema_charset`: the
    /// default for a statement that names no character set. Version 0.
    pub fn from_create(
        schema: &str,
        sql: &str,
        schema_charset: &Charset,
    ) -> Result<TableDef, SchemaError> {
        let not_create = || SchemaError::NotCreateTable {
            sql: sql.to_string(),
        };
        let statements = statements(sql).map_err(|reason| SchemaError::Unreadable {
            sql: sql.to_string(),
            table: Subject::Definition,
            reason,
        })?;
        let [ast::Statement::CreateTable(ct)] = statements.as_slice() else {
            return Err(not_create());
        };
        if ct.like.is_some() || ct.columns.is_empty() {
            return Err(not_create());
        }
        let (_, name) = table_name(&ct.name, schema, sql)?;
        Ok(create_table(ct, schema, &name, schema_charset))
    }
}

/// The statements of `sql`, read with the MySQL dialect, with the
/// MariaDB/MySQL forms sqlparser's MySQL dialect does not read:
/// `ZEROFILL` (read as the `UNSIGNED` it implies), `DROP KEY` (read as
/// `DROP INDEX`), MariaDB's `PERSISTENT` (`STORED`), a `CREATE TABLE`'s
/// `PARTITION BY` clause (left out), and an `ALTER TABLE` with `IF [NOT] EXISTS` on its
/// columns (read with the generic dialect, which keeps those flags; the
/// MySQL one drops them).
pub(crate) fn statements(sql: &str) -> Result<Vec<ast::Statement>, String> {
    use sqlparser::dialect::{GenericDialect, MySqlDialect};
    use sqlparser::parser::Parser;
    use sqlparser::tokenizer::{Token, Tokenizer};

    use crate::upstream::statement::TextOffsets;

    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| e.to_string())?;
    let keyword = |t: &Token, k: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    // Replacements: (byte range, text), in order.
    let mut offsets = TextOffsets::new(sql);
    let mut edits = Vec::new();
    let mut previous: Option<&Token> = None;
    let mut before_previous: Option<&Token> = None;
    for (i, t) in words.iter().enumerate() {
        let next = words.get(i + 1).map(|n| &n.token);
        let replacement = if keyword(&t.token, "NOWAIT")
            || (keyword(&t.token, "WAIT") && matches!(next, Some(Token::Number(..))))
            || (matches!(t.token, Token::Number(..))
                && previous.is_some_and(|p| keyword(p, "WAIT")))
        {
            // MariaDB's lock wait (`RENAME TABLE t WAIT 3 TO u`, `DROP
            // TABLE t NOWAIT`): nothing the definitions keep.
            Some(String::new())
        } else if keyword(&t.token, "ZEROFILL") {
            Some(if previous.is_some_and(|p| keyword(p, "UNSIGNED")) {
                String::new()
            } else {
                "UNSIGNED".into()
            })
        } else if keyword(&t.token, "KEY") && previous.is_some_and(|p| keyword(p, "DROP")) {
            Some("INDEX".into())
        } else if keyword(&t.token, "PERSISTENT") && previous == Some(&Token::RParen) {
            Some("STORED".into())
        } else if (keyword(&t.token, "FULLTEXT") || keyword(&t.token, "SPATIAL"))
            && previous.is_some_and(|p| keyword(p, "CREATE"))
        {
            // `CREATE FULLTEXT|SPATIAL INDEX`: a key like any other to
            // the tracker.
            Some(String::new())
        } else {
            // `ENGINE='InnoDB'` (MariaDB keeps the quotes it was written
            // with): the engine's bare name.
            match (&t.token, previous, before_previous) {
                (Token::SingleQuotedString(engine), Some(Token::Eq), Some(option))
                    if keyword(option, "ENGINE") && !engine.is_empty() =>
                {
                    Some(engine.clone())
                }
                (Token::SingleQuotedString(engine), Some(option), _)
                    if keyword(option, "ENGINE") && !engine.is_empty() =>
                {
                    Some(engine.clone())
                }
                _ => None,
            }
        };
        if let Some(text) = replacement {
            if let (Some(from), Some(to)) =
                (offsets.offset(t.span.start), offsets.offset(t.span.end))
            {
                edits.push((from, to, text));
            }
        }
        before_previous = previous;
        previous = Some(&t.token);
    }
    let creates = words.first().is_some_and(|t| keyword(&t.token, "CREATE"));
    // `CREATE TABLE t (LIKE s)`: sqlparser's MySQL dialect reads a column
    // named LIKE; it is `CREATE TABLE t LIKE s`.
    if creates {
        let like = words
            .windows(2)
            .position(|w| matches!(w, [open, like] if open.token == Token::LParen && keyword(&like.token, "LIKE")));
        let close = like.and_then(|at| {
            words
                .iter()
                .skip(at + 1)
                .find(|t| t.token == Token::RParen)
                .map(|close| (&words[at], *close))
        });
        if let Some((open, close)) = close {
            for t in [open, close] {
                if let (Some(from), Some(to)) =
                    (offsets.offset(t.span.start), offsets.offset(t.span.end))
                {
                    edits.push((from, to, " ".to_string()));
                }
            }
            edits.sort_by_key(|(from, _, _)| *from);
        }
    }
    // A new table's partitioning: nothing a row needs, and sqlparser's
    // MySQL dialect does not read it.
    let mut depth = 0usize;
    let mut cut = None;
    for t in &words {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if creates && depth == 0 && keyword(&t.token, "PARTITION") => {
                cut = offsets.offset(t.span.start);
                break;
            }
            _ => {}
        }
    }
    let mut text = String::with_capacity(sql.len());
    let mut copied = 0;
    for (from, to, replacement) in edits {
        text.push_str(sql.get(copied..from).unwrap_or_default());
        text.push_str(&replacement);
        copied = to;
    }
    text.push_str(
        sql.get(copied..cut.unwrap_or(sql.len()))
            .unwrap_or_default(),
    );
    let alter_if_exists = words.first().is_some_and(|t| keyword(&t.token, "ALTER"))
        && words.windows(2).any(|w| match w {
            [a, b] => {
                keyword(&a.token, "IF") && (keyword(&b.token, "NOT") || keyword(&b.token, "EXISTS"))
            }
            _ => false,
        });
    if alter_if_exists {
        if let Ok(statements) = Parser::parse_sql(&GenericDialect {}, &text) {
            return Ok(statements);
        }
    }
    Parser::parse_sql(&MySqlDialect {}, &text).map_err(|e| e.to_string())
}
