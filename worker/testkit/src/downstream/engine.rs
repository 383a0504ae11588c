//! A tiny SQL engine for the in-memory downstream: schemas and tables with
//! primary keys, and exactly the statements the worker sends (the sync
//! unit's `INSERT`/`REPLACE ... VALUES`, `UPDATE ... SET ... WHERE k <=> v
//! LIMIT 1`, `DELETE ... WHERE k <=> v LIMIT 1`, and the DDL it routes:
//! `CREATE DATABASE`, `CREATE TABLE`, `ALTER TABLE ADD|DROP COLUMN`,
//! `CREATE|DROP INDEX`, `DROP TABLE|DATABASE`, `TRUNCATE`). Statements are
//! parsed with sqlparser (MySQL dialect); anything else is an error naming
//! the statement. Errors carry MySQL's codes (1007, 1050, 1060, 1062, 1146,
//! ...) so callers that react to codes behave as with a real server. Pure:
//! no IO, no clock.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::ast::{
    AlterTableOperation, BinaryOperator, ColumnOption, CreateTable, Expr, ObjectName,
    ObjectNamePart, ObjectType, SetExpr, Statement, TableConstraint, TableFactor, TableObject,
    Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// A stored value (as the text protocol would show it; `None` is NULL).
pub type Cell = Option<String>;

/// A MySQL-style error: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub code: u16,
    pub message: String,
}

fn err(code: u16, message: impl Into<String>) -> SqlError {
    SqlError {
        code,
        message: message.into(),
    }
}

/// MySQL's "unknown error" code, for statements this engine does not run.
pub const ER_UNSUPPORTED: u16 = 1235;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub default: Cell,
    /// The definition as created (`c INT NOT NULL DEFAULT 7`), for `SHOW
    /// CREATE TABLE`.
    pub spec: String,
}

/// A row change to undo: the key and the row before (`None`: absent).
type RowUndo = (Vec<Cell>, Option<Vec<Cell>>);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub primary: Vec<String>,
    /// Unique indexes besides the primary key, by name.
    pub unique: BTreeSet<String>,
    /// Other indexes, by name.
    pub indexes: BTreeSet<String>,
    /// Each index's columns as created (`(`a`, `b`)`), by name.
    pub key_columns: BTreeMap<String, String>,
    /// Rows by primary key (every column when there is none).
    pub rows: BTreeMap<Vec<Cell>, Vec<Cell>>,
    /// While a transaction of row changes runs: how to undo each change,
    /// oldest first.
    undo: Option<Vec<RowUndo>>,
}

impl Table {
    fn position(&self, column: &str) -> Result<usize, SqlError> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(column))
            .ok_or_else(|| err(1054, format!("Unknown column '{column}'")))
    }

    fn key_of(&self, row: &[Cell]) -> Vec<Cell> {
        if self.primary.is_empty() {
            return row.to_vec();
        }
        self.primary
            .iter()
            .filter_map(|p| self.position(p).ok())
            .map(|i| row.get(i).cloned().flatten())
            .collect()
    }

    /// `SHOW CREATE TABLE`-like text (stable: a changed table shows
    /// different text).
    pub fn definition(&self, name: &str) -> String {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("  {}", c.spec))
            .collect();
        if !self.primary.is_empty() {
            lines.push(format!("  PRIMARY KEY (`{}`)", self.primary.join("`,`")));
        }
        let columns = |name: &str| {
            self.key_columns
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("(`{name}`)"))
        };
        for u in &self.unique {
            lines.push(format!("  UNIQUE KEY `{u}` {}", columns(u)));
        }
        for i in &self.indexes {
            lines.push(format!("  KEY `{i}` {}", columns(i)));
        }
        format!("CREATE TABLE `{name}` (\n{}\n)", lines.join(",\n"))
    }

    /// The rows in primary-key order.
    pub fn ordered_rows(&self) -> Vec<Vec<Cell>> {
        self.rows.values().cloned().collect()
    }

    /// Stores `row` at `key`, remembering what was there.
    fn put(&mut self, key: Vec<Cell>, row: Vec<Cell>) {
        let before = self.rows.insert(key.clone(), row);
        if let Some(undo) = &mut self.undo {
            undo.push((key, before));
        }
    }

    /// Removes the row at `key`, remembering it.
    fn take(&mut self, key: &Vec<Cell>) -> Option<Vec<Cell>> {
        let before = self.rows.remove(key);
        if let (Some(undo), Some(row)) = (&mut self.undo, &before) {
            undo.push((key.clone(), Some(row.clone())));
        }
        before
    }

    /// Ends the transaction's journal; `rollback` undoes its changes.
    fn end_transaction(&mut self, rollback: bool) {
        let undo = self.undo.take().unwrap_or_default();
        if !rollback {
            return;
        }
        for (key, before) in undo.into_iter().rev() {
            match before {
                Some(row) => {
                    self.rows.insert(key, row);
                }
                None => {
                    self.rows.remove(&key);
                }
            }
        }
    }
}

/// Whether a statement only changes rows (`INSERT`, `REPLACE`, `UPDATE`,
/// `DELETE`): a transaction of those is undone row by row.
fn changes_rows_only(sql: &[u8]) -> bool {
    let start = sql
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(sql.len());
    let head = sql.get(start..start.saturating_add(7)).unwrap_or_default();
    ["INSERT ", "REPLACE", "UPDATE ", "DELETE "]
        .iter()
        .any(|k| head.eq_ignore_ascii_case(k.as_bytes()))
}

/// Every schema and table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engine {
    pub schemas: BTreeSet<String>,
    pub tables: BTreeMap<(String, String), Table>,
}

fn part(p: &ObjectNamePart) -> Result<String, SqlError> {
    match p {
        ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
        other => Err(err(
            ER_UNSUPPORTED,
            format!("unsupported name part {other}"),
        )),
    }
}

/// `schema.table` (a name without a schema is refused: the worker always
/// qualifies).
fn table_name(name: &ObjectName) -> Result<(String, String), SqlError> {
    match name.0.as_slice() {
        [s, t] => Ok((part(s)?, part(t)?)),
        _ => Err(err(1046, format!("No database selected for {name}"))),
    }
}

fn schema_name(name: &ObjectName) -> Result<String, SqlError> {
    name.0
        .last()
        .map(part)
        .transpose()?
        .ok_or_else(|| err(1102, "empty database name"))
}

/// A literal's stored form.
fn cell(expr: &Expr) -> Result<Cell, SqlError> {
    match expr {
        Expr::Value(v) => Ok(match &v.value {
            Value::Null => None,
            Value::Number(n, _) => Some(n.to_string()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::HexStringLiteral(h) => Some(hex_text(h)?),
            Value::Boolean(b) => Some(if *b { "1".into() } else { "0".into() }),
            other => Some(other.to_string()),
        }),
        Expr::UnaryOp { op, expr } => {
            let inner = cell(expr)?.unwrap_or_default();
            Ok(Some(format!("{op}{inner}")))
        }
        // `_utf8mb4 X'..'`: a string in a character set (the engine keeps text).
        Expr::Prefixed { value, .. } => cell(value),
        other => Ok(Some(other.to_string())),
    }
}

fn hex_text(hex: &str) -> Result<String, SqlError> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| err(1064, format!("bad hex literal 0x{hex}")))
        })
        .collect::<Result<Vec<u8>, _>>()?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `a <=> x AND b <=> y`: the column/value pairs.
fn conditions(expr: &Expr, out: &mut Vec<(String, Cell)>) -> Result<(), SqlError> {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conditions(left, out)?;
            conditions(right, out)
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Spaceship | BinaryOperator::Eq,
            right,
        } => match left.as_ref() {
            Expr::Identifier(i) => {
                out.push((i.value.clone(), cell(right)?));
                Ok(())
            }
            other => Err(err(
                ER_UNSUPPORTED,
                format!("unsupported condition on {other}"),
            )),
        },
        Expr::Nested(e) => conditions(e, out),
        other => Err(err(
            ER_UNSUPPORTED,
            format!("unsupported condition {other}"),
        )),
    }
}

impl Engine {
    fn table_mut(&mut self, name: &(String, String)) -> Result<&mut Table, SqlError> {
        self.tables
            .get_mut(name)
            .ok_or_else(|| err(1146, format!("Table '{}.{}' doesn't exist", name.0, name.1)))
    }

    /// Runs `statements` as one transaction: every one of them, or (on
    /// the first error, returned with the statement's index) none. Row
    /// changes are undone row by row; a transaction with anything else
    /// runs on a copy of the engine.
    pub fn transaction<S: AsRef<[u8]>>(
        &mut self,
        statements: &[S],
    ) -> Result<(), (usize, SqlError)> {
        let text = |s: &S| String::from_utf8_lossy(s.as_ref()).into_owned();
        if !statements.iter().all(|s| changes_rows_only(s.as_ref())) {
            let mut scratch = self.clone();
            for (i, s) in statements.iter().enumerate() {
                scratch.execute(&text(s)).map_err(|e| (i, e))?;
            }
            *self = scratch;
            return Ok(());
        }
        for table in self.tables.values_mut() {
            table.undo = Some(Vec::new());
        }
        let mut result = Ok(());
        for (i, s) in statements.iter().enumerate() {
            if let Err(e) = self.execute(&text(s)) {
                result = Err((i, e));
                break;
            }
        }
        for table in self.tables.values_mut() {
            table.end_transaction(result.is_err());
        }
        result
    }

    /// Runs one statement.
    pub fn execute(&mut self, sql: &str) -> Result<(), SqlError> {
        let statements = Parser::parse_sql(&MySqlDialect {}, sql)
            .map_err(|e| err(1064, format!("{e} in `{sql}`")))?;
        for statement in statements {
            self.run(statement, sql)?;
        }
        Ok(())
    }

    fn run(&mut self, statement: Statement, sql: &str) -> Result<(), SqlError> {
        match statement {
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Err(err(ER_UNSUPPORTED, format!("unsupported insert `{sql}`")));
                };
                let name = table_name(name)?;
                let columns: Vec<String> = insert
                    .columns
                    .iter()
                    .map(|c| {
                        c.0.last()
                            .map(part)
                            .transpose()
                            .map(Option::unwrap_or_default)
                    })
                    .collect::<Result<_, _>>()?;
                let Some(SetExpr::Values(values)) = insert.source.as_ref().map(|q| q.body.as_ref())
                else {
                    return Err(err(ER_UNSUPPORTED, format!("unsupported insert `{sql}`")));
                };
                let rows: Vec<Vec<Cell>> = values
                    .rows
                    .iter()
                    .map(|r| r.iter().map(cell).collect::<Result<Vec<_>, _>>())
                    .collect::<Result<_, _>>()?;
                self.insert(&name, &columns, rows, insert.replace_into, insert.ignore)
            }
            Statement::Update(update) => {
                let TableFactor::Table { name, .. } = &update.table.relation else {
                    return Err(err(ER_UNSUPPORTED, format!("unsupported update `{sql}`")));
                };
                let name = table_name(name)?;
                let mut set = Vec::new();
                for a in &update.assignments {
                    let column = a.target.to_string().trim_matches('`').to_string();
                    set.push((column, cell(&a.value)?));
                }
                let mut filter = Vec::new();
                if let Some(w) = &update.selection {
                    conditions(w, &mut filter)?;
                }
                self.update(&name, &set, &filter)
            }
            Statement::Delete(delete) => {
                let tables = match &delete.from {
                    sqlparser::ast::FromTable::WithFromKeyword(t)
                    | sqlparser::ast::FromTable::WithoutKeyword(t) => t,
                };
                let Some(TableFactor::Table { name, .. }) = tables.first().map(|t| &t.relation)
                else {
                    return Err(err(ER_UNSUPPORTED, format!("unsupported delete `{sql}`")));
                };
                let name = table_name(name)?;
                let mut filter = Vec::new();
                if let Some(w) = &delete.selection {
                    conditions(w, &mut filter)?;
                }
                let table = self.table_mut(&name)?;
                let found = find(table, &filter)?;
                if let Some(key) = found {
                    table.take(&key);
                }
                Ok(())
            }
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                ..
            } => {
                let schema = schema_name(&db_name)?;
                if !self.schemas.insert(schema.clone()) && !if_not_exists {
                    return Err(err(
                        1007,
                        format!("Can't create database '{schema}'; database exists"),
                    ));
                }
                Ok(())
            }
            Statement::CreateTable(create) => self.create_table(&create),
            Statement::AlterTable(alter) => {
                let name = table_name(&alter.name)?;
                for op in &alter.operations {
                    self.alter(&name, op, sql)?;
                }
                Ok(())
            }
            Statement::CreateIndex(index) => {
                let name = table_name(&index.table_name)?;
                let index_name = index
                    .name
                    .as_ref()
                    .map(schema_name)
                    .transpose()?
                    .unwrap_or_else(|| "idx".into());
                let table = self.table_mut(&name)?;
                if table.unique.contains(&index_name) || table.indexes.contains(&index_name) {
                    return Err(err(1061, format!("Duplicate key name '{index_name}'")));
                }
                table
                    .key_columns
                    .insert(index_name.clone(), key_columns(&index.columns));
                if index.unique {
                    table.unique.insert(index_name);
                } else {
                    table.indexes.insert(index_name);
                }
                Ok(())
            }
            Statement::Drop {
                object_type,
                names,
                if_exists,
                table,
                ..
            } => self.drop(object_type, &names, if_exists, table.as_ref()),
            Statement::Truncate(t) => {
                for n in &t.table_names {
                    let name = table_name(&n.name)?;
                    self.table_mut(&name)?.rows.clear();
                }
                Ok(())
            }
            _ => Err(err(
                ER_UNSUPPORTED,
                format!("unsupported statement `{sql}`"),
            )),
        }
    }

    fn insert(
        &mut self,
        name: &(String, String),
        columns: &[String],
        rows: Vec<Vec<Cell>>,
        replace: bool,
        ignore: bool,
    ) -> Result<(), SqlError> {
        let table = self.table_mut(name)?;
        let positions: Vec<usize> = columns
            .iter()
            .map(|c| table.position(c))
            .collect::<Result<_, _>>()?;
        for values in rows {
            let mut row: Vec<Cell> = table.columns.iter().map(|c| c.default.clone()).collect();
            for (p, v) in positions.iter().zip(values) {
                if let Some(slot) = row.get_mut(*p) {
                    *slot = v;
                }
            }
            let key = table.key_of(&row);
            if table.rows.contains_key(&key) && !replace {
                if ignore {
                    continue;
                }
                return Err(err(
                    1062,
                    format!("Duplicate entry '{key:?}' for key 'PRIMARY'"),
                ));
            }
            table.put(key, row);
        }
        Ok(())
    }

    fn update(
        &mut self,
        name: &(String, String),
        set: &[(String, Cell)],
        filter: &[(String, Cell)],
    ) -> Result<(), SqlError> {
        let table = self.table_mut(name)?;
        let Some(key) = find(table, filter)? else {
            return Ok(());
        };
        let Some(mut row) = table.take(&key) else {
            return Ok(());
        };
        for (column, value) in set {
            let p = table.position(column)?;
            if let Some(slot) = row.get_mut(p) {
                *slot = value.clone();
            }
        }
        let new_key = table.key_of(&row);
        if new_key != key && table.rows.contains_key(&new_key) {
            let old = table.key_of(&row);
            table.put(key, row);
            return Err(err(
                1062,
                format!("Duplicate entry '{old:?}' for key 'PRIMARY'"),
            ));
        }
        table.put(new_key, row);
        Ok(())
    }

    fn create_table(&mut self, create: &CreateTable) -> Result<(), SqlError> {
        let name = table_name(&create.name)?;
        if !self.schemas.contains(&name.0) {
            return Err(err(1049, format!("Unknown database '{}'", name.0)));
        }
        if self.tables.contains_key(&name) {
            if create.if_not_exists {
                return Ok(());
            }
            return Err(err(1050, format!("Table '{}' already exists", name.1)));
        }
        let mut table = Table::default();
        for c in &create.columns {
            let mut default = None;
            for o in &c.options {
                match &o.option {
                    ColumnOption::Default(e) => default = cell(e)?,
                    ColumnOption::PrimaryKey(_) => table.primary.push(c.name.value.clone()),
                    ColumnOption::Unique(_) => {
                        table.unique.insert(c.name.value.clone());
                        table
                            .key_columns
                            .insert(c.name.value.clone(), format!("(`{}`)", c.name.value));
                    }
                    _ => {}
                }
            }
            table.columns.push(Column {
                name: c.name.value.clone(),
                data_type: c.data_type.to_string(),
                default,
                spec: c.to_string(),
            });
        }
        for constraint in &create.constraints {
            match constraint {
                TableConstraint::PrimaryKey(pk) => {
                    table.primary = pk
                        .columns
                        .iter()
                        .map(|c| c.column.expr.to_string().trim_matches('`').to_string())
                        .collect();
                }
                TableConstraint::Unique(u) => {
                    let n = u
                        .name
                        .as_ref()
                        .or(u.index_name.as_ref())
                        .map(|i| i.value.clone())
                        .unwrap_or_else(|| format!("unique_{}", table.unique.len()));
                    table.key_columns.insert(n.clone(), key_columns(&u.columns));
                    table.unique.insert(n);
                }
                _ => {}
            }
        }
        self.tables.insert(name, table);
        Ok(())
    }

    fn alter(
        &mut self,
        name: &(String, String),
        op: &AlterTableOperation,
        sql: &str,
    ) -> Result<(), SqlError> {
        let table = self.table_mut(name)?;
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                let column = column_def.name.value.clone();
                if table.position(&column).is_ok() {
                    if *if_not_exists {
                        return Ok(());
                    }
                    return Err(err(1060, format!("Duplicate column name '{column}'")));
                }
                let mut default = None;
                for o in &column_def.options {
                    if let ColumnOption::Default(e) = &o.option {
                        default = cell(e)?;
                    }
                }
                for row in table.rows.values_mut() {
                    row.push(default.clone());
                }
                table.columns.push(Column {
                    name: column,
                    data_type: column_def.data_type.to_string(),
                    default,
                    spec: column_def.to_string(),
                });
                Ok(())
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let Ok(p) = table.position(&c.value) else {
                        if *if_exists {
                            continue;
                        }
                        return Err(err(
                            1091,
                            format!("Can't DROP COLUMN `{}`; check that it exists", c.value),
                        ));
                    };
                    table.columns.remove(p);
                    let rows = std::mem::take(&mut table.rows);
                    for (_, mut row) in rows {
                        row.remove(p);
                        let key = table.key_of(&row);
                        table.rows.insert(key, row);
                    }
                }
                Ok(())
            }
            _ => Err(err(
                ER_UNSUPPORTED,
                format!("unsupported ALTER TABLE `{sql}`"),
            )),
        }
    }

    fn drop(
        &mut self,
        object_type: ObjectType,
        names: &[ObjectName],
        if_exists: bool,
        on_table: Option<&ObjectName>,
    ) -> Result<(), SqlError> {
        match object_type {
            ObjectType::Table => {
                for n in names {
                    let name = table_name(n)?;
                    if self.tables.remove(&name).is_none() && !if_exists {
                        return Err(err(1051, format!("Unknown table '{}.{}'", name.0, name.1)));
                    }
                }
                Ok(())
            }
            ObjectType::Schema | ObjectType::Database => {
                for n in names {
                    let schema = schema_name(n)?;
                    if !self.schemas.remove(&schema) && !if_exists {
                        return Err(err(
                            1008,
                            format!("Can't drop database '{schema}'; database doesn't exist"),
                        ));
                    }
                    self.tables.retain(|(s, _), _| *s != schema);
                }
                Ok(())
            }
            ObjectType::Index => {
                let Some(on) = on_table else {
                    return Err(err(ER_UNSUPPORTED, "DROP INDEX without ON table"));
                };
                let name = table_name(on)?;
                let table = self.table_mut(&name)?;
                for n in names {
                    let index = schema_name(n)?;
                    table.key_columns.remove(&index);
                    if !table.unique.remove(&index) && !table.indexes.remove(&index) {
                        return Err(err(
                            1091,
                            format!("Can't DROP INDEX `{index}`; check that it exists"),
                        ));
                    }
                }
                Ok(())
            }
            other => Err(err(ER_UNSUPPORTED, format!("unsupported DROP {other}"))),
        }
    }
}

/// An index's columns as `SHOW CREATE TABLE` lists them.
fn key_columns(columns: &[sqlparser::ast::IndexColumn]) -> String {
    let names: Vec<String> = columns.iter().map(|c| c.column.expr.to_string()).collect();
    format!("({})", names.join(", "))
}

/// The key of the first row (in key order) matching every condition.
fn find(table: &Table, filter: &[(String, Cell)]) -> Result<Option<Vec<Cell>>, SqlError> {
    let positions: Vec<(usize, &Cell)> = filter
        .iter()
        .map(|(c, v)| table.position(c).map(|p| (p, v)))
        .collect::<Result<_, _>>()?;
    let matches = |row: &Vec<Cell>| positions.iter().all(|(p, v)| row.get(*p) == Some(*v));
    // Every primary-key column in the filter: at most the row at that key.
    if !table.primary.is_empty() {
        let key: Option<Vec<Cell>> = table
            .primary
            .iter()
            .map(|p| {
                filter
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(p))
                    .map(|(_, v)| v.clone())
            })
            .collect();
        if let Some(key) = key {
            return Ok(table.rows.get(&key).filter(|r| matches(r)).map(|_| key));
        }
    }
    Ok(table
        .rows
        .iter()
        .find(|(_, row)| matches(row))
        .map(|(k, _)| k.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut e = Engine::default();
        e.execute("CREATE DATABASE `db`").unwrap();
        e.execute("CREATE TABLE `db`.`t` (id INT NOT NULL, c VARCHAR(40), PRIMARY KEY (id))")
            .unwrap();
        e
    }

    fn rows(e: &Engine) -> Vec<Vec<Cell>> {
        e.tables[&("db".into(), "t".into())].ordered_rows()
    }

    fn row(id: &str, c: Option<&str>) -> Vec<Cell> {
        vec![Some(id.into()), c.map(String::from)]
    }

    #[test]
    fn the_sync_units_statements_run() {
        let mut e = engine();
        e.execute("INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,_utf8mb4 X'61'),(2,0x62)")
            .unwrap();
        e.execute("UPDATE `db`.`t` SET `id`=1,`c`=0x7a WHERE `id` <=> 1 LIMIT 1")
            .unwrap();
        e.execute("DELETE FROM `db`.`t` WHERE `id` <=> 2 LIMIT 1")
            .unwrap();
        e.execute("REPLACE INTO `db`.`t` (`id`,`c`) VALUES (3,NULL),(1,0x79)")
            .unwrap();
        assert_eq!(rows(&e), [row("1", Some("y")), row("3", None)]);
        let dup = e
            .execute("INSERT INTO `db`.`t` (`id`,`c`) VALUES (3,0x61)")
            .unwrap_err();
        assert_eq!(dup.code, 1062);
        // Missing rows: nothing happens, as in MySQL.
        e.execute("DELETE FROM `db`.`t` WHERE `id` <=> 9 LIMIT 1")
            .unwrap();
        e.execute("UPDATE `db`.`t` SET `c`=0x61 WHERE `id` <=> 9 LIMIT 1")
            .unwrap();
        assert_eq!(rows(&e).len(), 2);
    }

    #[test]
    fn ddl_runs_and_fails_with_mysqls_codes() {
        let mut e = engine();
        e.execute("INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,0x61)")
            .unwrap();
        e.execute("ALTER TABLE `db`.`t` ADD COLUMN extra INT NOT NULL DEFAULT 7")
            .unwrap();
        assert_eq!(rows(&e)[0][2], Some("7".into()));
        let codes = [
            ("ALTER TABLE `db`.`t` ADD COLUMN extra INT", 1060),
            ("CREATE TABLE `db`.`t` (id INT)", 1050),
            ("CREATE DATABASE `db`", 1007),
            ("DROP TABLE `db`.`nope`", 1051),
            ("ALTER TABLE `db`.`t` DROP COLUMN nope", 1091),
            ("INSERT INTO `db`.`nope` (`id`) VALUES (1)", 1146),
            ("SELECT 1", ER_UNSUPPORTED),
        ];
        for (sql, code) in codes {
            assert_eq!(e.execute(sql).map_err(|e| e.code), Err(code), "{sql}");
        }
        e.execute("CREATE UNIQUE INDEX u ON `db`.`t` (c)").unwrap();
        assert_eq!(
            e.execute("CREATE INDEX u ON `db`.`t` (c)")
                .unwrap_err()
                .code,
            1061
        );
        e.execute("DROP INDEX u ON `db`.`t`").unwrap();
        e.execute("ALTER TABLE `db`.`t` DROP COLUMN extra").unwrap();
        assert_eq!(rows(&e), [row("1", Some("a"))]);
        e.execute("DROP DATABASE `db`").unwrap();
        assert!(e.tables.is_empty());
    }

    #[test]
    fn a_transaction_applies_every_statement_or_none() {
        let mut e = engine();
        e.execute("INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,0x61),(2,0x62)")
            .unwrap();
        let before = e.clone();
        let failing = [
            "UPDATE `db`.`t` SET `id`=1,`c`=0x7a WHERE `id` <=> 1 LIMIT 1",
            "DELETE FROM `db`.`t` WHERE `id` <=> 2 LIMIT 1",
            "REPLACE INTO `db`.`t` (`id`,`c`) VALUES (5,0x65)",
            "INSERT INTO `db`.`t` (`id`,`c`) VALUES (6,0x66),(1,0x61)",
        ];
        let (at, error) = e.transaction(&failing).unwrap_err();
        assert_eq!((at, error.code), (3, 1062));
        assert_eq!(e, before, "a failed transaction changes nothing");
        // With DDL in it, too.
        let mixed = [
            "INSERT INTO `db`.`t` (`id`,`c`) VALUES (7,0x67)",
            "ALTER TABLE `db`.`t` ADD COLUMN extra INT NOT NULL DEFAULT 7",
            "INSERT INTO `db`.`t` (`id`,`c`) VALUES (7,0x67)",
        ];
        assert_eq!(e.transaction(&mixed).unwrap_err().0, 2);
        assert_eq!(e, before);
        e.transaction(&failing[..3]).unwrap();
        assert_eq!(rows(&e), vec![row("1", Some("z")), row("5", Some("e"))]);
    }
}
