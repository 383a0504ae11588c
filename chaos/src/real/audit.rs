//! Counting how often each row is inserted downstream.
//!
//! Before the task starts, the runner creates the downstream table itself
//! (the copy creates it only if it does not exist) with a trigger that
//! counts every insert of a row id in `chaos_audit.inserts`. The trigger
//! runs inside the inserting transaction, so a rolled-back copy chunk or
//! batch leaves no count. A `REPLACE` of an existing row counts as an
//! insert too.
//!
//! Replaying is allowed in one place only: right after the full copy, the
//! sync unit re-applies, idempotently, the binlog between the copy's
//! snapshots (the replay window). Every event of that window was written
//! before the source's copy finished. So a row created after the runner
//! saw its source leave the copy must have been inserted exactly once:
//! anything else is a change applied twice.

use mysql_async::prelude::Queryable;

use super::schema::{main_columns, ID_STEP};
use super::RunError;
use dm_tests::MariaDb;

/// Creates `chaos.t` downstream with its audit trigger.
pub async fn prepare(downstream: &MariaDb) -> Result<(), RunError> {
    let mut conn = downstream.conn().await.map_err(RunError::Harness)?;
    for sql in [
        "CREATE DATABASE chaos".to_string(),
        format!("CREATE TABLE chaos.t {}", main_columns()),
        "CREATE DATABASE chaos_audit".to_string(),
        "CREATE TABLE chaos_audit.inserts (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, \
         created_ms BIGINT NOT NULL, n INT NOT NULL)"
            .to_string(),
        "CREATE TRIGGER chaos.t_audit AFTER INSERT ON chaos.t FOR EACH ROW \
         INSERT INTO chaos_audit.inserts (id, created_ms, n) VALUES (NEW.id, NEW.created_ms, 1) \
         ON DUPLICATE KEY UPDATE n = n + 1"
            .to_string(),
    ] {
        conn.query_drop(&sql)
            .await
            .map_err(RunError::sql("preparing the downstream audit"))?;
    }
    Ok(())
}

/// Rows inserted more than once downstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Twice {
    /// Rows created after their source left the copy.
    pub audited: u64,
    /// Of those, rows inserted more than once (must be 0).
    pub outside_window: u64,
    /// Rows inserted more than once within the replay window (allowed).
    pub inside_window: u64,
}

/// Counts rows inserted more than once; `copy_done_ms[k]` is when shard
/// `k + 1`'s source was first seen past the copy (unix ms).
pub async fn applied_twice(downstream: &MariaDb, copy_done_ms: &[u64]) -> Result<Twice, RunError> {
    let mut conn = downstream.conn().await.map_err(RunError::Harness)?;
    let mut twice = Twice::default();
    for (k, done_ms) in copy_done_ms.iter().enumerate() {
        let shard = k as u64 + 1;
        let counts: Option<(u64, u64, u64)> = conn
            .exec_first(
                "SELECT CAST(COALESCE(SUM(created_ms > ?), 0) AS UNSIGNED), \
                 CAST(COALESCE(SUM(created_ms > ? AND n > 1), 0) AS UNSIGNED), \
                 CAST(COALESCE(SUM(created_ms <= ? AND n > 1), 0) AS UNSIGNED) \
                 FROM chaos_audit.inserts WHERE id % ? = ?",
                (done_ms, done_ms, done_ms, ID_STEP, shard),
            )
            .await
            .map_err(RunError::sql("reading the audit"))?;
        let (audited, outside, inside) = counts.unwrap_or_default();
        twice.audited += audited;
        twice.outside_window += outside;
        twice.inside_window += inside;
    }
    Ok(twice)
}
