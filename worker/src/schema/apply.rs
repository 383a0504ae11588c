//! A DDL statement applied to the tracked definitions. The statement is
//! read by sqlparser (MySQL dialect); every kind that changes what a row
//! event means is followed: tables created (also `LIKE`), altered
//! (columns added, dropped, modified, changed, renamed, placed `FIRST` or
//! `AFTER` another; keys added and dropped), renamed and dropped; schemas
//! created and dropped. An `ALTER TABLE` is applied to a copy and kept
//! only when all its changes apply, in order.
//!
//! A `CREATE TABLE` of a table already tracked replaces it (the binlog
//! holds only statements the server accepted, so the tracked one was gone
//! by then: seeded after the statement, or dropped in a way not logged).
//! Temporary tables are not followed (row events never name them).
//!
//! What the tracker cannot follow for a table it tracks is an error naming
//! the statement: a definition it got wrong would decode rows into the
//! wrong columns, so the caller pauses instead. Statements on tables it
//! does not track, and statements that change no table, change nothing.

use sqlparser::ast::{
    self, AlterTableOperation, CreateTableLikeKind, ObjectType, SchemaName, Statement,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::alter::{alter_all, alter_text, check_columns, display, drop_key, spec_columns};
use super::error::Subject;
use super::parse::{self, add_key, table_name, KeySpec};
use super::specs::{self, Spec, SplitAlter};
use super::table::{Charset, TableDef};
use super::tracker::{SchemaTracker, TableName};
use super::SchemaError;

/// What a statement changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Nothing the tracker keeps.
    Unchanged,
    /// These changes, in order.
    Changed(Vec<Change>),
}

/// One change of the tracked definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    SchemaCreated(String),
    /// A new default character set.
    SchemaAltered(String),
    SchemaDropped(String),
    TableCreated(TableName),
    TableAltered(TableName),
    TableRenamed {
        from: TableName,
        to: TableName,
    },
    TableDropped(TableName),
}

impl SchemaTracker {
    /// Applies `ddl_sql`, read with `current_schema` as the default
    /// database (the binlog's query event says which).
    pub fn apply(&mut self, current_schema: &str, ddl_sql: &str) -> Result<Applied, SchemaError> {
        let statements = match parse::statements(ddl_sql) {
            Ok(statements) => statements,
            Err(e) => {
                if let Some(split) = specs::split(ddl_sql) {
                    return self.split_alter(current_schema, ddl_sql, &split);
                }
                if let Some((schema, charset, collation)) = specs::alter_schema(ddl_sql) {
                    let schema = schema.unwrap_or_else(|| current_schema.to_string());
                    return Ok(self.alter_schema(schema, charset, collation));
                }
                return self.unreadable(current_schema, ddl_sql, &e);
            }
        };
        // Applied to a copy: a statement takes effect whole or not at all.
        let mut next = self.clone();
        let mut changes = Vec::new();
        for statement in &statements {
            changes.extend(next.statement(current_schema, ddl_sql, statement)?);
        }
        if changes.is_empty() {
            return Ok(Applied::Unchanged);
        }
        *self = next;
        Ok(Applied::Changed(changes))
    }

    fn statement(
        &mut self,
        current: &str,
        sql: &str,
        statement: &Statement,
    ) -> Result<Vec<Change>, SchemaError> {
        match statement {
            Statement::CreateTable(ct) => self.create_table(current, sql, ct),
            Statement::AlterTable(at) => {
                let name = table_name(&at.name, current, sql)?;
                self.alter_table(current, sql, name, &at.operations)
            }
            Statement::RenameTable(renames) => {
                let mut changes = Vec::new();
                for r in renames {
                    let from = table_name(&r.old_name, current, sql)?;
                    let to = table_name(&r.new_name, current, sql)?;
                    changes.extend(self.rename(from, to));
                }
                Ok(changes)
            }
            // A temporary table hides the real one of its name: dropping
            // it leaves the real one (MariaDB logs such drops in row
            // format too).
            Statement::Drop {
                temporary: true, ..
            } => Ok(Vec::new()),
            Statement::Drop {
                object_type,
                names,
                table,
                if_exists,
                ..
            } => match object_type {
                ObjectType::Table => {
                    let mut changes = Vec::new();
                    for n in names {
                        let name = table_name(n, current, sql)?;
                        if self.take(&name).is_some() {
                            changes.push(Change::TableDropped(name));
                        }
                    }
                    Ok(changes)
                }
                ObjectType::Database | ObjectType::Schema => {
                    let mut changes = Vec::new();
                    for n in names {
                        let schema = parse::last_name(n);
                        let known = self.schemas.remove(&schema).is_some();
                        if self.tables.remove(&schema).is_some() || known {
                            changes.push(Change::SchemaDropped(schema));
                        }
                    }
                    Ok(changes)
                }
                ObjectType::Index => match table {
                    Some(t) => {
                        let name = table_name(t, current, sql)?;
                        let exists = |key: &str| {
                            self.table(&name.0, &name.1).is_some_and(|t| {
                                t.unique_keys
                                    .iter()
                                    .chain(&t.indexes)
                                    .any(|k| k.name.eq_ignore_ascii_case(key))
                                    || (key.eq_ignore_ascii_case("PRIMARY")
                                        && !t.primary_key.is_empty())
                            })
                        };
                        let ops: Vec<AlterTableOperation> = names
                            .iter()
                            // `IF EXISTS`: a key that is not there is no
                            // error.
                            .filter(|n| !*if_exists || exists(&parse::last_name(n)))
                            .map(|n| AlterTableOperation::DropIndex {
                                name: ast::Ident::new(parse::last_name(n)),
                            })
                            .collect();
                        self.alter_table(current, sql, name, &ops)
                    }
                    None => Ok(Vec::new()),
                },
                _ => Ok(Vec::new()),
            },
            Statement::CreateIndex(ci) => {
                let name = table_name(&ci.table_name, current, sql)?;
                let columns = parse::index_columns(&ci.columns);
                let index = ci.name.as_ref().map(parse::last_name);
                let spec = if ci.unique {
                    KeySpec::Unique(index, columns)
                } else {
                    KeySpec::Index(index, columns)
                };
                self.change_table(name, |table| {
                    check_columns(sql, table, spec_columns(&spec))?;
                    add_key(table, spec);
                    Ok(())
                })
            }
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                default_charset,
                default_collation,
                ..
            } => {
                let schema = parse::last_name(db_name);
                let charset =
                    Charset::from_clauses(default_charset.as_deref(), default_collation.as_deref());
                Ok(self.create_schema(schema, *if_not_exists, charset))
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => match schema_name {
                SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => {
                    Ok(self.create_schema(parse::last_name(n), *if_not_exists, None))
                }
                SchemaName::UnnamedAuthorization(_) => Ok(Vec::new()),
            },
            // TRUNCATE, DML and everything else: no definition changes.
            _ => Ok(Vec::new()),
        }
    }

    /// `ALTER DATABASE`: a new default character set for the tables
    /// created in `schema` from now on.
    fn alter_schema(
        &mut self,
        schema: String,
        charset: Option<String>,
        collation: Option<String>,
    ) -> Applied {
        let Some(set) = Charset::from_clauses(charset.as_deref(), collation.as_deref()) else {
            return Applied::Unchanged;
        };
        if !self.schemas.contains_key(&schema) {
            return Applied::Unchanged;
        }
        self.schemas.insert(schema.clone(), Some(set));
        Applied::Changed(vec![Change::SchemaAltered(schema)])
    }

    fn create_schema(
        &mut self,
        schema: String,
        if_not_exists: bool,
        charset: Option<Charset>,
    ) -> Vec<Change> {
        if if_not_exists && self.schemas.contains_key(&schema) {
            return Vec::new();
        }
        self.schemas.insert(schema.clone(), charset);
        vec![Change::SchemaCreated(schema)]
    }

    fn create_table(
        &mut self,
        current: &str,
        sql: &str,
        ct: &ast::CreateTable,
    ) -> Result<Vec<Change>, SchemaError> {
        let name = table_name(&ct.name, current, sql)?;
        if ct.temporary || (ct.if_not_exists && self.table(&name.0, &name.1).is_some()) {
            return Ok(Vec::new());
        }
        let mut table = match &ct.like {
            Some(CreateTableLikeKind::Plain(like) | CreateTableLikeKind::Parenthesized(like)) => {
                let source = table_name(&like.name, current, sql)?;
                let mut copy = self.table(&source.0, &source.1).cloned().ok_or_else(|| {
                    SchemaError::UnknownTable {
                        sql: sql.to_string(),
                        table: display(&source),
                    }
                })?;
                copy.schema = name.0.clone();
                copy.name = name.1.clone();
                copy
            }
            None if ct.query.is_some() => {
                return Err(SchemaError::Unsupported {
                    sql: sql.to_string(),
                    table: display(&name),
                    what: "a table created from a query".into(),
                })
            }
            None if ct.columns.is_empty() => {
                return Err(SchemaError::Unsupported {
                    sql: sql.to_string(),
                    table: display(&name),
                    what: "a table without column definitions".into(),
                })
            }
            None => {
                let charset = self.schema_charset(&name.0);
                parse::create_table(ct, &name.0, &name.1, &charset)
            }
        };
        table.version = self.next_version();
        self.schemas.entry(name.0.clone()).or_insert(None);
        self.put(table);
        Ok(vec![Change::TableCreated(name)])
    }

    fn rename(&mut self, from: TableName, to: TableName) -> Vec<Change> {
        let Some(mut table) = self.take(&from) else {
            return Vec::new();
        };
        table.schema = to.0.clone();
        table.name = to.1.clone();
        table.version = self.next_version();
        self.put(table);
        vec![Change::TableRenamed { from, to }]
    }

    /// Changes tracked table `name` with `change`; untracked: nothing.
    fn change_table(
        &mut self,
        name: TableName,
        change: impl FnOnce(&mut TableDef) -> Result<(), SchemaError>,
    ) -> Result<Vec<Change>, SchemaError> {
        let Some(before) = self.table(&name.0, &name.1) else {
            return Ok(Vec::new());
        };
        let mut table = before.clone();
        change(&mut table)?;
        if &table == before {
            return Ok(Vec::new());
        }
        table.version = self.next_version();
        self.put(table);
        Ok(vec![Change::TableAltered(name)])
    }

    fn alter_table(
        &mut self,
        current: &str,
        sql: &str,
        name: TableName,
        operations: &[AlterTableOperation],
    ) -> Result<Vec<Change>, SchemaError> {
        if self.table(&name.0, &name.1).is_none() {
            return Ok(Vec::new());
        }
        let mut rename_to = None;
        let mut changes = self.change_table(name.clone(), |table| {
            alter_all(sql, current, table, operations, &mut rename_to)
        })?;
        if let Some(to) = rename_to {
            changes.extend(self.rename(name, to));
        }
        Ok(changes)
    }

    /// An `ALTER TABLE` read in parts ([`specs`]): each specification in
    /// order, those sqlparser reads through it.
    fn split_alter(
        &mut self,
        current: &str,
        sql: &str,
        split: &SplitAlter,
    ) -> Result<Applied, SchemaError> {
        let name = match split.table.as_slice() {
            [t] => (current.to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => return Ok(Applied::Unchanged),
        };
        let mut rename_to = None;
        let mut next = self.clone();
        let mut changes = next.change_table(name.clone(), |table| {
            for spec in &split.specs {
                match spec {
                    Spec::NoChange => {}
                    Spec::Charset { charset, collation } => {
                        if let Some(set) =
                            Charset::from_clauses(charset.as_deref(), collation.as_deref())
                        {
                            table.charset = set;
                        }
                    }
                    Spec::Convert(text) => {
                        return Err(SchemaError::Unsupported {
                            sql: sql.to_string(),
                            table: display(&name),
                            what: text.clone(),
                        })
                    }
                    Spec::RenameKey { from, to } => {
                        let key = table
                            .unique_keys
                            .iter_mut()
                            .chain(table.indexes.iter_mut())
                            .find(|k| k.name.eq_ignore_ascii_case(from))
                            .ok_or_else(|| SchemaError::UnknownKey {
                                sql: sql.to_string(),
                                table: display(&name),
                                key: from.clone(),
                            })?;
                        key.name = to.clone();
                    }
                    Spec::DropKeyIfExists(key) => {
                        drop_key(table, key);
                    }
                    Spec::AddKeyIfNotExists { name: key, spec } => {
                        let exists = table
                            .unique_keys
                            .iter()
                            .chain(&table.indexes)
                            .any(|k| k.name.eq_ignore_ascii_case(key));
                        if !exists {
                            alter_text(sql, current, &split.head, spec, table, &mut rename_to)?;
                        }
                    }
                    Spec::ColumnIfExists { name: column, spec } => {
                        if table.position(column).is_some() {
                            alter_text(sql, current, &split.head, spec, table, &mut rename_to)?;
                        }
                    }
                    Spec::Other(spec) => {
                        alter_text(sql, current, &split.head, spec, table, &mut rename_to)?
                    }
                }
            }
            Ok(())
        })?;
        if let Some(to) = rename_to {
            changes.extend(next.rename(name, to));
        }
        if changes.is_empty() {
            return Ok(Applied::Unchanged);
        }
        *self = next;
        Ok(Applied::Changed(changes))
    }

    /// A statement sqlparser cannot read: an error when it changes a table
    /// the tracker follows (or creates one it would have to), else
    /// nothing. The table is found in the statement's tokens.
    fn unreadable(&self, current: &str, sql: &str, reason: &str) -> Result<Applied, SchemaError> {
        let error = |table: Subject| SchemaError::Unreadable {
            sql: sql.to_string(),
            table,
            reason: reason.to_string(),
        };
        let words = words(sql);
        let word = |i: usize| words.get(i).map(|(w, _)| w.to_ascii_uppercase());
        let Some(verb) = word(0) else {
            return Ok(Applied::Unchanged);
        };
        if !matches!(verb.as_str(), "ALTER" | "CREATE" | "DROP" | "RENAME") {
            return Ok(Applied::Unchanged);
        }
        let Some(at) = (1..words.len().min(6)).find(|&i| {
            matches!(
                word(i).as_deref(),
                Some("TABLE" | "TABLES" | "DATABASE" | "SCHEMA")
            )
        }) else {
            return Ok(Applied::Unchanged);
        };
        let object = word(at).unwrap_or_default();
        let mut i = at + 1;
        while matches!(word(i).as_deref(), Some("IF" | "NOT" | "EXISTS")) {
            i += 1;
        }
        let Some((first, _)) = words.get(i) else {
            return Ok(Applied::Unchanged);
        };
        let qualified = words.get(i + 1).is_some_and(|(_, dot)| *dot);
        if object == "DATABASE" || object == "SCHEMA" {
            return if self.schemas.contains_key(first) {
                Err(error(Subject::Schema(first.clone())))
            } else {
                Ok(Applied::Unchanged)
            };
        }
        let name = match words.get(i + 1) {
            Some((second, _)) if qualified => (first.clone(), second.clone()),
            _ => (current.to_string(), first.clone()),
        };
        let temporary = words
            .iter()
            .take(at)
            .any(|(w, _)| w.eq_ignore_ascii_case("TEMPORARY"));
        if (verb == "CREATE" && !temporary) || self.table(&name.0, &name.1).is_some() {
            return Err(error(display(&name)));
        }
        Ok(Applied::Unchanged)
    }
}

/// The statement's words and identifiers, each with whether a `.` came
/// right before it.
fn words(sql: &str) -> Vec<(String, bool)> {
    let Ok(tokens) = Tokenizer::new(&MySqlDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut dot = false;
    for token in tokens {
        match token {
            Token::Whitespace(_) => {}
            Token::Period => dot = true,
            Token::Word(w) => {
                out.push((w.value, dot));
                dot = false;
            }
            _ => {
                // Other tokens end a name; keep a placeholder so the
                // positions still count.
                out.push((String::new(), false));
                dot = false;
            }
        }
    }
    out
}
