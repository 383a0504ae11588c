//! What a source's copy reads: its tables (after the block-allow list and
//! the routes), their columns, keys, definitions and key ranges, all read
//! inside the snapshot. [`plan`] works on any [`CopySnapshot`]; the other
//! functions are the queries a MySQL / MariaDB snapshot runs.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::plan::{chunk_key, IndexColumn, PlannedTable};
use super::source::CopySnapshot;
use super::sql::qualified;
use super::CopyError;
use dm_rules::TaskRules;

/// A table to copy, with where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub schema: String,
    pub table: String,
    pub estimate_rows: u64,
}

fn db(what: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> CopyError {
    let what = what.into();
    move |source| CopyError::Upstream { what, source }
}

/// The base tables the rules select, with the server's row estimates.
pub async fn list_tables(conn: &mut Conn, rules: &TaskRules) -> Result<Vec<Candidate>, CopyError> {
    let rows: Vec<(String, String, Option<u64>)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(db("listing tables"))?;
    Ok(rows
        .into_iter()
        .filter(|(schema, table, _)| rules.selects(schema, table))
        .map(|(schema, table, rows)| Candidate {
            schema,
            table,
            estimate_rows: rows.unwrap_or(0),
        })
        .collect())
}

/// The schemas the rules select (`information_schema.SCHEMATA`), system
/// schemas excepted.
pub async fn list_schemas(conn: &mut Conn, rules: &TaskRules) -> Result<Vec<String>, CopyError> {
    let schemas: Vec<String> = conn
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await
        .map_err(db("listing schemas"))?;
    Ok(schemas
        .into_iter()
        .filter(|schema| rules.selects_schema(schema))
        .collect())
}

/// Plans a table: route, chunk key, key range (read in the snapshot).
pub async fn plan(
    snapshot: &mut dyn CopySnapshot,
    rules: &TaskRules,
    candidate: &Candidate,
) -> Result<PlannedTable, CopyError> {
    let (target_schema, target_table) = rules
        .route(&candidate.schema, &candidate.table)
        .map_err(|e| CopyError::Rules(e.to_string()))?;
    let columns = snapshot
        .index_columns(&candidate.schema, &candidate.table)
        .await?;
    let key = chunk_key(&columns);
    let key_range = match &key {
        Some(k) => {
            snapshot
                .key_range(&candidate.schema, &candidate.table, k)
                .await?
        }
        None => None,
    };
    Ok(PlannedTable {
        schema: candidate.schema.clone(),
        table: candidate.table.clone(),
        target_schema,
        target_table,
        key,
        key_range,
        estimate_rows: candidate.estimate_rows,
    })
}

/// The columns of the table's indexes (`information_schema.STATISTICS`).
pub async fn index_columns(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<IndexColumn>, CopyError> {
    let indexes: Vec<(String, u8, String, String, String)> = conn
        .exec(
            "SELECT s.INDEX_NAME, s.NON_UNIQUE, s.COLUMN_NAME, c.IS_NULLABLE, c.DATA_TYPE \
             FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c \
             ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME \
             AND c.COLUMN_NAME = s.COLUMN_NAME \
             WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX",
            (schema, table),
        )
        .await
        .map_err(db(format!(
            "reading the keys of {}",
            qualified(schema, table)
        )))?;
    Ok(indexes
        .into_iter()
        .map(
            |(index, non_unique, column, nullable, data_type)| IndexColumn {
                index,
                unique: non_unique == 0,
                column,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                integer: matches!(
                    data_type.to_ascii_lowercase().as_str(),
                    "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
                ),
            },
        )
        .collect())
}

/// The smallest and largest value of the integer column `key`.
pub async fn key_range(
    conn: &mut Conn,
    schema: &str,
    table: &str,
    key: &str,
) -> Result<Option<(i128, i128)>, CopyError> {
    let q = super::sql::quote(key);
    let row: Option<(Option<String>, Option<String>)> = conn
        .query_first(format!(
            "SELECT CAST(MIN({q}) AS CHAR), CAST(MAX({q}) AS CHAR) FROM {}",
            qualified(schema, table)
        ))
        .await
        .map_err(db("reading the key range"))?;
    match row {
        Some((Some(min), Some(max))) => Ok(Some((parse_key(&min)?, parse_key(&max)?))),
        _ => Ok(None),
    }
}

fn parse_key(text: &str) -> Result<i128, CopyError> {
    text.parse()
        .map_err(|_| CopyError::Unexpected(format!("integer key value {text:?} is not an integer")))
}

/// The table's definition (`SHOW CREATE TABLE`).
pub async fn show_create(conn: &mut Conn, schema: &str, table: &str) -> Result<String, CopyError> {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {}", qualified(schema, table)))
        .await
        .map_err(db(format!(
            "reading the definition of {}",
            qualified(schema, table)
        )))?;
    row.map(|(_, ddl)| ddl).ok_or_else(|| {
        CopyError::Unexpected(format!("no definition for {}", qualified(schema, table)))
    })
}

/// The columns a copy writes: every column but generated ones, in order.
/// A generated column is one with a generation expression (MySQL and
/// MariaDB fill it for those only; `EXTRA` would also name MySQL 8's
/// `DEFAULT_GENERATED` columns, which are ordinary columns with a default).
pub async fn writable_columns(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, CopyError> {
    let columns: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             AND COALESCE(GENERATION_EXPRESSION, '') = '' ORDER BY ORDINAL_POSITION",
            (schema, table),
        )
        .await
        .map_err(db(format!(
            "reading the columns of {}",
            qualified(schema, table)
        )))?;
    if columns.is_empty() {
        return Err(CopyError::Unexpected(format!(
            "{} has no columns to copy",
            qualified(schema, table)
        )));
    }
    Ok(columns)
}
