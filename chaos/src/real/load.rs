//! The upstream write load: one shard table per upstream, merged into one
//! downstream table by the task.
//!
//! Shard `k` (1-based) owns `chaos.t_k` on upstream `k`; the servers'
//! auto-increment settings (step [`ID_STEP`], offset `k`) keep ids apart,
//! so `id % ID_STEP` names a row's shard downstream. Each transaction
//! inserts rows stamped with the runner's wall clock (`created_ms`),
//! bumps an older row's version, and now and then deletes a row of the
//! initial data. At its scheduled time each shard runs the shard DDL
//! (`ADD COLUMN extra`), after which its inserts fill the new column; the
//! task's pessimistic shard mode holds each shard at the DDL until all
//! three reached it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::RunError;

/// `auto_increment_increment` of the upstreams.
pub const ID_STEP: u16 = 5;
/// The shard DDL every shard runs once.
pub const SHARD_DDL: &str = "ADD COLUMN extra INT NULL";
/// Pause between one shard's transactions.
const PACING: Duration = Duration::from_millis(8);

/// The shard table's definition (also the downstream table's, before the DDL).
pub fn table_columns() -> &'static str {
    "(id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, \
     note VARCHAR(40) NULL, created_ms BIGINT NOT NULL)"
}

/// Creates `chaos.t_k` with `2^doublings` rows of initial data.
pub async fn create_shard(
    conn: &mut mysql_async::Conn,
    shard: usize,
    doublings: u32,
) -> Result<(), RunError> {
    let t = format!("chaos.t_{shard}");
    conn.query_drop("CREATE DATABASE IF NOT EXISTS chaos")
        .await
        .map_err(RunError::sql("creating chaos"))?;
    conn.query_drop(format!("CREATE TABLE {t} {}", table_columns()))
        .await
        .map_err(RunError::sql("creating a shard table"))?;
    conn.query_drop(format!(
        "INSERT INTO {t} (v, note, created_ms) VALUES (0, 'initial', 0)"
    ))
    .await
    .map_err(RunError::sql("seeding a shard"))?;
    for _ in 0..doublings {
        conn.query_drop(format!(
            "INSERT INTO {t} (v, note, created_ms) SELECT v, IF(id % 7 = 0, NULL, note), 0 FROM {t}"
        ))
        .await
        .map_err(RunError::sql("seeding a shard"))?;
    }
    Ok(())
}

/// What one shard's load has done, shared with the lag sampler.
#[derive(Debug, Default)]
pub struct Progress {
    /// Transactions committed.
    pub transactions: AtomicU64,
    /// The last inserted row and when its transaction committed.
    pub last_insert: Mutex<Option<(u64, Instant)>>,
}

/// One shard's writer, running until `stop`.
#[derive(Debug)]
pub struct ShardLoad {
    pub shard: usize,
    pub progress: Arc<Progress>,
    pub task: tokio::task::JoinHandle<Result<(), RunError>>,
}

impl ShardLoad {
    /// Starts writing to shard `shard`; it runs the shard DDL once
    /// `ddl_after` has passed.
    pub fn start(
        mut conn: mysql_async::Conn,
        shard: usize,
        seed: u64,
        ddl_after: Duration,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let progress = Arc::new(Progress::default());
        let shared = progress.clone();
        let task = tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed ^ (shard as u64) << 32);
            let started = Instant::now();
            let t = format!("chaos.t_{shard}");
            let mut altered = false;
            let mut max_id: u64 = conn
                .query_first(format!("SELECT MAX(id) FROM {t}"))
                .await
                .map_err(RunError::sql("reading a shard's last id"))?
                .flatten()
                .unwrap_or(0u64);
            let mut i: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                if !altered && started.elapsed() >= ddl_after {
                    conn.query_drop(format!("ALTER TABLE {t} {SHARD_DDL}"))
                        .await
                        .map_err(RunError::sql("the shard DDL"))?;
                    altered = true;
                }
                i += 1;
                let now_ms = dm_proto::clock::unix_ms();
                let note = (!i.is_multiple_of(10)).then(|| format!("s{shard}-{i}"));
                let mut tx = conn
                    .start_transaction(mysql_async::TxOpts::default())
                    .await
                    .map_err(RunError::sql("a load transaction"))?;
                let insert = if altered {
                    format!("INSERT INTO {t} (v, note, created_ms, extra) VALUES (0, ?, ?, ?)")
                } else {
                    format!("INSERT INTO {t} (v, note, created_ms) VALUES (0, ?, ?)")
                };
                if altered {
                    tx.exec_drop(&insert, (note, now_ms, i)).await
                } else {
                    tx.exec_drop(&insert, (note, now_ms)).await
                }
                .map_err(RunError::sql("a load insert"))?;
                let inserted = tx.last_insert_id().unwrap_or(max_id);
                max_id = max_id.max(inserted);
                tx.exec_drop(
                    format!("UPDATE {t} SET v = v + 1 WHERE id = ?"),
                    (rng.gen_range(1..=max_id.max(1)),),
                )
                .await
                .map_err(RunError::sql("a load update"))?;
                if i.is_multiple_of(5) {
                    tx.exec_drop(
                        format!("DELETE FROM {t} WHERE id = ? AND created_ms = 0"),
                        (rng.gen_range(1..=max_id.max(1)),),
                    )
                    .await
                    .map_err(RunError::sql("a load delete"))?;
                }
                tx.commit().await.map_err(RunError::sql("a load commit"))?;
                shared.transactions.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = shared.last_insert.lock() {
                    *last = Some((inserted, Instant::now()));
                }
                tokio::time::sleep(PACING).await;
            }
            if !altered {
                // Every shard must reach the DDL, or the others wait at it.
                conn.query_drop(format!("ALTER TABLE {t} {SHARD_DDL}"))
                    .await
                    .map_err(RunError::sql("the shard DDL"))?;
            }
            Ok(())
        });
        Self {
            shard,
            progress,
            task,
        }
    }
}
