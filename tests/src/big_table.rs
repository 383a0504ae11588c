//! A large upstream table (`big.t`, shaped like sysbench's) and the checks
//! the copy tests make on it.

use mysql_async::prelude::Queryable;

use crate::error::{HarnessError, Result};
use crate::mariadb::MariaDb;

/// Creates `big.t` with `rows` rows (ids 1..=rows) on `server`.
pub async fn create(server: &MariaDb, rows: u64) -> Result<()> {
    crate::tutorial::run_sql(
        server,
        &[
            "CREATE DATABASE big",
            "CREATE TABLE big.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY k_1 (k))",
            &format!(
                "INSERT INTO big.t SELECT seq, seq * 7 % 10007, REPEAT(MD5(seq), 3), MD5(-seq) FROM big.seq_1_to_{rows}"
            ),
        ],
    )
    .await
}

/// A `task-mode: full` task named `name` copying database `big` of source
/// `mysql1` to the downstream at `port`, with `threads` copiers and chunks
/// of `rows_per_chunk` rows. Its copy stops on a row already downstream
/// (`on-duplicate-logical: error`), so a chunk copied twice fails the test
/// instead of being overwritten.
pub fn task_yaml(name: &str, port: u16, threads: u32, rows_per_chunk: u64) -> String {
    format!(
        "name: {name}\ntask-mode: full\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"root\"\n  password: \"\"\n\
mysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"big\"\n    mydumper:\n      threads: {threads}\n      rows: {rows_per_chunk}\n    loader:\n      on-duplicate-logical: error\n\
block-allow-list:\n  big:\n    do-dbs: [\"big\"]\n"
    )
}

/// Row count, distinct ids and an order-independent checksum of every
/// column of `big.t`.
pub async fn fingerprint(server: &MariaDb) -> Result<(u64, u64, String)> {
    let mut conn = server.conn().await?;
    let row: Option<(u64, u64, String)> = conn
        .query_first(
            "SELECT COUNT(*), COUNT(DISTINCT id), \
             CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, k, c, pad))), 0) AS CHAR) FROM big.t",
        )
        .await
        .map_err(|e| HarnessError::Task(format!("fingerprint of big.t: {e}")))?;
    row.ok_or_else(|| HarnessError::Task("no fingerprint row".into()))
}

/// (chunk index, epoch) of every done chunk of `task`'s copy (empty before
/// the plan exists).
pub async fn done_chunks(server: &MariaDb, task: &str) -> Vec<(u32, u64)> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query(format!(
        "SELECT chunk_index, epoch FROM dm_meta.`{task}_copy_chunk` WHERE done = 1 ORDER BY chunk_index"
    ))
    .await
    .unwrap_or_default()
}

/// Everything `task`'s meta tables hold about its copy and fence, as text
/// (to compare before and after).
pub async fn meta_dump(server: &MariaDb, task: &str) -> Result<Vec<String>> {
    let mut conn = server.conn().await?;
    let chunks: Vec<(u32, u8, u64, u64, String, u32, u64)> = conn
        .query(format!(
            "SELECT chunk_index, done, copied_rows, copied_bytes, binlog_name, binlog_pos, epoch \
             FROM dm_meta.`{task}_copy_chunk` ORDER BY chunk_index"
        ))
        .await
        .map_err(|e| HarnessError::Task(format!("reading the copy chunks: {e}")))?;
    let fence: Vec<(String, u64)> = conn
        .query(format!(
            "SELECT source_id, epoch FROM dm_meta.`{task}_fence` ORDER BY source_id"
        ))
        .await
        .map_err(|e| HarnessError::Task(format!("reading the fence: {e}")))?;
    Ok(chunks
        .iter()
        .map(|c| format!("{c:?}"))
        .chain(fence.iter().map(|f| format!("fence {f:?}")))
        .collect())
}
