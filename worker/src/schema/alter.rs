//! `ALTER TABLE` operations applied to one table's definition, in order:
//! columns added, dropped, modified, changed and renamed (placed `FIRST`
//! or `AFTER` another), keys added, renamed and dropped. Keys follow
//! their columns as the server's do: a renamed column is renamed in them,
//! a dropped one leaves them, and a key left without columns goes.

use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, MySQLColumnPosition, RenameTableNameKind,
    Statement,
};

use super::error::Subject;
use super::parse::{self, add_column_keys, add_key, key_spec, table_name, KeySpec};
use super::table::{ColumnDef, TableDef};
use super::tracker::TableName;
use super::SchemaError;

/// `operations` applied to `table` in order; a `RENAME TO` is noted in
/// `rename_to` (the caller moves the table after the other changes).
pub(super) fn alter_all(
    sql: &str,
    current: &str,
    table: &mut TableDef,
    operations: &[AlterTableOperation],
    rename_to: &mut Option<TableName>,
) -> Result<(), SchemaError> {
    for op in operations {
        if let AlterTableOperation::RenameTable { table_name: kind } = op {
            let (RenameTableNameKind::As(n) | RenameTableNameKind::To(n)) = kind;
            *rename_to = Some(table_name(n, current, sql)?);
        } else {
            alter(sql, table, op)?;
        }
    }
    Ok(())
}

/// One specification of `sql` read by sqlparser as `head spec`, applied.
pub(super) fn alter_text(
    sql: &str,
    current: &str,
    head: &str,
    spec: &str,
    table: &mut TableDef,
    rename_to: &mut Option<TableName>,
) -> Result<(), SchemaError> {
    let unreadable = |reason: String| SchemaError::Unreadable {
        sql: sql.to_string(),
        table: display(&(table.schema.clone(), table.name.clone())),
        reason,
    };
    let statements = parse::statements(&format!("{head} {spec}")).map_err(unreadable)?;
    match statements.as_slice() {
        [Statement::AlterTable(at)] => alter_all(sql, current, table, &at.operations, rename_to),
        _ => Err(unreadable(format!(
            "`{spec}` is no ALTER TABLE specification"
        ))),
    }
}

/// `schema`.`table` as the subject of an error.
pub(crate) fn display(name: &TableName) -> Subject {
    Subject::Table(name.clone())
}

pub(super) fn spec_columns(spec: &KeySpec) -> &[String] {
    match spec {
        KeySpec::Primary(c)
        | KeySpec::Unique(_, c)
        | KeySpec::Index(_, c)
        | KeySpec::Foreign(_, c) => c,
    }
}

/// Every key column must be a column of `table`.
pub(super) fn check_columns(
    sql: &str,
    table: &TableDef,
    columns: &[String],
) -> Result<(), SchemaError> {
    for c in columns {
        if table.position(c).is_none() {
            return Err(unknown_column(sql, table, c));
        }
    }
    Ok(())
}

fn unknown_column(sql: &str, table: &TableDef, column: &str) -> SchemaError {
    SchemaError::UnknownColumn {
        sql: sql.to_string(),
        table: display(&(table.schema.clone(), table.name.clone())),
        column: column.to_string(),
    }
}

/// One `ALTER TABLE` operation applied to `table`.
fn alter(sql: &str, table: &mut TableDef, op: &AlterTableOperation) -> Result<(), SchemaError> {
    let table_name = display(&(table.schema.clone(), table.name.clone()));
    let name = || table_name.clone();
    match op {
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            column_position,
            ..
        } => {
            if table.position(&column_def.name.value).is_some() {
                if *if_not_exists {
                    return Ok(());
                }
                return Err(SchemaError::DuplicateColumn {
                    sql: sql.to_string(),
                    table: name(),
                    column: column_def.name.value.clone(),
                });
            }
            let (column, keys) = parse::column(column_def, &table.charset);
            let at = place(sql, table, column_position.as_ref(), table.columns.len())?;
            let column_name = column.name.clone();
            table.columns.insert(at, column);
            add_column_keys(table, &column_name, keys);
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            for c in column_names {
                match table.position(&c.value) {
                    Some(at) => drop_column(table, at),
                    None if *if_exists => {}
                    None => return Err(unknown_column(sql, table, &c.value)),
                }
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => replace_column(
            sql,
            table,
            &col_name.value,
            &col_name.value,
            data_type,
            options,
            column_position.as_ref(),
        )?,
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => replace_column(
            sql,
            table,
            &old_name.value,
            &new_name.value,
            data_type,
            options,
            column_position.as_ref(),
        )?,
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            let at = table
                .position(&old_column_name.value)
                .ok_or_else(|| unknown_column(sql, table, &old_column_name.value))?;
            rename_column(table, at, &new_column_name.value);
        }
        AlterTableOperation::AddConstraint { constraint, .. } => {
            if let Some(spec) = key_spec(constraint) {
                check_columns(sql, table, spec_columns(&spec))?;
                add_key(table, spec);
            }
        }
        AlterTableOperation::DropPrimaryKey { .. } => table.primary_key.clear(),
        AlterTableOperation::DropIndex { name: key } => {
            if !drop_key(table, &key.value) {
                return Err(SchemaError::UnknownKey {
                    sql: sql.to_string(),
                    table: name(),
                    key: key.value.clone(),
                });
            }
        }
        AlterTableOperation::DropConstraint { name: key, .. } => {
            // A unique key by its name, or a CHECK constraint, which is no
            // key (and nothing a row needs): whether one went or not, the
            // server accepted the statement.
            drop_key(table, &key.value);
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            if table.position(&column_name.value).is_none() {
                return Err(unknown_column(sql, table, &column_name.value));
            }
            match op {
                AlterColumnOperation::SetDefault { .. } | AlterColumnOperation::DropDefault => {}
                other => {
                    return Err(SchemaError::Unsupported {
                        sql: sql.to_string(),
                        table: name(),
                        what: format!("ALTER COLUMN {other}"),
                    })
                }
            }
        }
        // How the change is made, and what rows do not see.
        AlterTableOperation::Algorithm { .. }
        | AlterTableOperation::Lock { .. }
        | AlterTableOperation::AutoIncrement { .. }
        | AlterTableOperation::DropForeignKey { .. } => {}
        other => {
            return Err(SchemaError::Unsupported {
                sql: sql.to_string(),
                table: name(),
                what: other.to_string(),
            })
        }
    }
    Ok(())
}

/// Where a column goes: `FIRST`, `AFTER c`, or `default`.
fn place(
    sql: &str,
    table: &TableDef,
    position: Option<&MySQLColumnPosition>,
    default: usize,
) -> Result<usize, SchemaError> {
    match position {
        None => Ok(default),
        Some(MySQLColumnPosition::First) => Ok(0),
        Some(MySQLColumnPosition::After(c)) => table
            .position(&c.value)
            .map(|at| at + 1)
            .ok_or_else(|| unknown_column(sql, table, &c.value)),
    }
}

/// MODIFY / CHANGE: the column `old` gets a new definition (and name),
/// in place unless a position is given.
fn replace_column(
    sql: &str,
    table: &mut TableDef,
    old: &str,
    new: &str,
    data_type: &ast::DataType,
    options: &[ast::ColumnOption],
    position: Option<&MySQLColumnPosition>,
) -> Result<(), SchemaError> {
    let at = table
        .position(old)
        .ok_or_else(|| unknown_column(sql, table, old))?;
    if !old.eq_ignore_ascii_case(new) && table.position(new).is_some() {
        return Err(SchemaError::DuplicateColumn {
            sql: sql.to_string(),
            table: display(&(table.schema.clone(), table.name.clone())),
            column: new.to_string(),
        });
    }
    let def = ast::ColumnDef {
        name: ast::Ident::new(new),
        data_type: data_type.clone(),
        options: options
            .iter()
            .map(|option| ast::ColumnOptionDef {
                name: None,
                option: option.clone(),
            })
            .collect(),
    };
    let (mut column, keys): (ColumnDef, _) = parse::column(&def, &table.charset);
    let in_primary_key = table
        .primary_key
        .iter()
        .any(|k| k.eq_ignore_ascii_case(old));
    if in_primary_key {
        column.nullable = false;
    }
    rename_column(table, at, new);
    table.columns.remove(at);
    let to = place(sql, table, position, at)?;
    table.columns.insert(to, column);
    add_column_keys(table, new, keys);
    Ok(())
}

/// Renames column `at`, also in the keys.
fn rename_column(table: &mut TableDef, at: usize, new: &str) {
    let Some(column) = table.columns.get_mut(at) else {
        return;
    };
    let old = std::mem::replace(&mut column.name, new.to_string());
    let keys = std::iter::once(&mut table.primary_key).chain(
        table
            .unique_keys
            .iter_mut()
            .chain(table.indexes.iter_mut())
            .map(|k| &mut k.columns),
    );
    for columns in keys {
        for c in columns.iter_mut() {
            if c.eq_ignore_ascii_case(&old) {
                *c = new.to_string();
            }
        }
    }
}

/// Drops column `at`; the keys lose it, and a key left without columns
/// goes (as the server does).
fn drop_column(table: &mut TableDef, at: usize) {
    let column = table.columns.remove(at);
    let gone = |c: &String| c.eq_ignore_ascii_case(&column.name);
    table.primary_key.retain(|c| !gone(c));
    for key in table.unique_keys.iter_mut().chain(table.indexes.iter_mut()) {
        key.columns.retain(|c| !gone(c));
    }
    table.unique_keys.retain(|k| !k.columns.is_empty());
    table.indexes.retain(|k| !k.columns.is_empty());
}

/// Drops the key named `name` (`PRIMARY`: the primary key); whether there
/// was one.
pub(super) fn drop_key(table: &mut TableDef, name: &str) -> bool {
    if name.eq_ignore_ascii_case("PRIMARY") {
        let had = !table.primary_key.is_empty();
        table.primary_key.clear();
        return had;
    }
    let before = table.unique_keys.len() + table.indexes.len();
    table
        .unique_keys
        .retain(|k| !k.name.eq_ignore_ascii_case(name));
    table.indexes.retain(|k| !k.name.eq_ignore_ascii_case(name));
    before != table.unique_keys.len() + table.indexes.len()
}
