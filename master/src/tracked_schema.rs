//! What `binlog-schema` reads from the users' databases: a table's
//! `SHOW CREATE TABLE` on a source's upstream (`update --from-source`) or
//! on the task's downstream (`update --from-target`), and the tracked
//! definitions a subtask's worker persisted downstream (`list`).
//!
//! The worker writes its schema tracker's state into
//! `<meta-schema>`.`<task>_schema`, one row per checkpoint that changed it;
//! the row in effect for a source is the one with the highest `seq`. Its
//! `state` is JSON whose `definitions` object holds every tracked table as
//! CREATE TABLE text (`{"<schema>": {"<table>": "CREATE TABLE ..."}}`), so
//! the master reads it without the tracker's code.

use std::time::Duration;

use dm_proto::config::{DbConfig, SourceConfig, TaskConfig};
use dm_proto::sql::{qualified, quote};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::databases::DatabaseError;

/// How long one read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `SHOW CREATE TABLE schema.table` on `source`'s upstream.
pub async fn upstream_create_table(
    source: &SourceConfig,
    schema: &str,
    table: &str,
) -> Result<String, DatabaseError> {
    show_create_table(&source.from, "upstream", schema, table).await
}

/// `SHOW CREATE TABLE schema.table` on `task`'s downstream.
pub async fn downstream_create_table(
    task: &TaskConfig,
    schema: &str,
    table: &str,
) -> Result<String, DatabaseError> {
    show_create_table(&task.target_database, "downstream", schema, table).await
}

/// The `state` of the tracked-schema row in effect for `source` of `task`;
/// `None` when there is none (no row yet, or no such table).
pub async fn tracked_state(
    task: &TaskConfig,
    source: &str,
) -> Result<Option<String>, DatabaseError> {
    let table = qualified(&task.meta_schema, &format!("{}_schema", task.name));
    let sql = format!("SELECT state FROM {table} WHERE source_id = ? ORDER BY seq DESC LIMIT 1");
    let source = source.to_string();
    with_conn(
        &task.target_database,
        "downstream",
        move |mut conn| async move {
            let row: Result<Option<String>, _> = conn.exec_first(sql, (source,)).await;
            let _ = conn.disconnect().await;
            match row {
                Ok(state) => Ok(state),
                // No such table or schema: the worker has not written it yet.
                Err(mysql_async::Error::Server(e)) if e.code == 1146 || e.code == 1049 => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await
}

async fn show_create_table(
    db: &DbConfig,
    side: &'static str,
    schema: &str,
    table: &str,
) -> Result<String, DatabaseError> {
    let sql = format!("SHOW CREATE TABLE {}", qualified(schema, table));
    let name = format!("{}.{}", quote(schema), quote(table));
    let answer = with_conn(db, side, move |mut conn| async move {
        let row: Result<Option<(String, String)>, _> = conn.query_first(sql).await;
        let _ = conn.disconnect().await;
        row
    })
    .await;
    match answer {
        Ok(Some((_, create))) => Ok(create),
        Ok(None) => Err(DatabaseError::NoSuchTable {
            side,
            at: format!("{}:{}", db.host, db.port),
            table: name,
            why: "SHOW CREATE TABLE returned no row".into(),
        }),
        Err(DatabaseError::ReadFailed {
            error: mysql_async::Error::Server(e),
            at,
            ..
        }) => Err(DatabaseError::NoSuchTable {
            side,
            at,
            table: name,
            why: e.message,
        }),
        Err(e) => Err(e),
    }
}

/// Runs `read` on a new connection to `db` within [`READ_TIMEOUT`].
async fn with_conn<T, F, Fut>(
    db: &DbConfig,
    side: &'static str,
    read: F,
) -> Result<T, DatabaseError>
where
    F: FnOnce(Conn) -> Fut,
    Fut: std::future::Future<Output = Result<T, mysql_async::Error>>,
{
    let at = format!("{}:{}", db.host, db.port);
    let attempt = async {
        let block = if side == "upstream" {
            crate::db_opts::FROM
        } else {
            crate::db_opts::TARGET_DATABASE
        };
        let conn = crate::db_opts::connect(db, block)
            .await
            .map_err(|e| e.into_mysql())?;
        read(conn).await
    };
    match tokio::time::timeout(READ_TIMEOUT, attempt).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(DatabaseError::ReadFailed { side, at, error }),
        Err(_) => Err(DatabaseError::ReadTimeout {
            side,
            at,
            secs: READ_TIMEOUT.as_secs(),
        }),
    }
}
