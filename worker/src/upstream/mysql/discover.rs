//! What a server holds, as the copy and the sync ask it: its tables (after
//! the block-allow list), schemas, index columns, definitions, columns and
//! key ranges, read with `information_schema` queries on a connection (in
//! a snapshot when the copy asks).

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::upstream::{BaseTable, IndexColumn, SchemaSeed, SeedSchema, SeedTable, UpstreamError};
use dm_proto::sql::{qualified, quote};
use dm_rules::TaskRules;

fn db(what: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> UpstreamError {
    UpstreamError::query(what)
}

/// The base tables the rules select, with the server's row estimates.
pub async fn list_tables(
    conn: &mut Conn,
    rules: &TaskRules,
) -> Result<Vec<BaseTable>, UpstreamError> {
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
        .map(|(schema, table, rows)| BaseTable {
            schema,
            table,
            estimate_rows: rows.unwrap_or(0),
        })
        .collect())
}

/// The schemas the rules select (`information_schema.SCHEMATA`), system
/// schemas excepted.
pub async fn list_schemas(
    conn: &mut Conn,
    rules: &TaskRules,
) -> Result<Vec<String>, UpstreamError> {
    let schemas: Vec<String> = conn
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await
        .map_err(db("listing schemas"))?;
    Ok(schemas
        .into_iter()
        .filter(|schema| rules.selects_schema(schema))
        .collect())
}

/// The columns of the table's indexes (`information_schema.STATISTICS`).
pub async fn index_columns(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Vec<IndexColumn>, UpstreamError> {
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
) -> Result<Option<(i128, i128)>, UpstreamError> {
    let q = quote(key);
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

fn parse_key(text: &str) -> Result<i128, UpstreamError> {
    text.parse()
        .map_err(|_| UpstreamError::Data(format!("integer key value {text:?} is not an integer")))
}

/// The table's definition (`SHOW CREATE TABLE`).
pub async fn show_create(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<String, UpstreamError> {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {}", qualified(schema, table)))
        .await
        .map_err(db(format!(
            "reading the definition of {}",
            qualified(schema, table)
        )))?;
    row.map(|(_, ddl)| ddl).ok_or_else(|| {
        UpstreamError::Data(format!("no definition for {}", qualified(schema, table)))
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
) -> Result<Vec<String>, UpstreamError> {
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
        return Err(UpstreamError::Data(format!(
            "{} has no columns to copy",
            qualified(schema, table)
        )));
    }
    Ok(columns)
}

/// The definitions of the tables the rules select, with the server's and
/// the schemas' default character sets (see [`crate::upstream::seed`]); in
/// a snapshot when `conn` is in one. The session must print definitions
/// in MySQL's own syntax (`copy_source::read_session_setup`).
pub async fn schema_seed(conn: &mut Conn, rules: &TaskRules) -> Result<SchemaSeed, UpstreamError> {
    let server: Option<(String, String, String)> = conn
        .query_first("SELECT @@character_set_server, @@collation_server, VERSION()")
        .await
        .map_err(db("reading the server's character set"))?;
    let (server_charset, server_collation, version) = server.unwrap_or_default();
    let schemas: Vec<(String, String, String)> = conn
        .query(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
        )
        .await
        .map_err(db("reading the schemas' character sets"))?;
    let mut tables = Vec::new();
    for table in list_tables(conn, rules).await? {
        let create = show_create(conn, &table.schema, &table.table).await?;
        tables.push(SeedTable {
            schema: table.schema,
            table: table.table,
            create,
        });
    }
    Ok(SchemaSeed {
        server_charset,
        server_collation,
        mariadb: version.contains("MariaDB"),
        schemas: schemas
            .into_iter()
            .filter(|(name, _, _)| rules.selects_schema(name))
            .map(|(name, charset, collation)| SeedSchema {
                name,
                charset,
                collation,
            })
            .collect(),
        tables,
    })
}
