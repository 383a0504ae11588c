//! The tables of a run: three kinds of shard table, each merged into one
//! downstream table by the task's routes, and how each is checksummed.
//!
//! - `chaos.t_k` → `chaos.t`: the main load (inserts, updates, deletes),
//!   the shard DDL, the audit trigger and the lag probe.
//! - `chaos.g_k` → `chaos.g`: a VIRTUAL and a STORED generated column
//!   besides plain ones. Upstream writes name only the plain columns; the
//!   downstream table (created by the full copy from the shard's
//!   definition) computes its own generated values, which the checksum
//!   and `check-diff` compare too.
//! - `chaos.p_k` → `chaos.p`: [`BIG_ROWS`] rows padded to about
//!   [`PAD_BYTES`] each, with a second unique key, so every change of the
//!   table goes to one apply lane. Now and then a shard updates every row
//!   in one transaction: its row images take more than the lane's
//!   in-memory bound (32 MiB), so the sync applies it in pieces.
//!
//! The servers' auto-increment settings (step [`ID_STEP`], offset `k`)
//! keep ids apart, so `id % ID_STEP` names a row's shard downstream; the
//! padded table's ids are written explicitly with the same rule.

use mysql_async::prelude::Queryable;

use super::RunError;

/// `auto_increment_increment` of the upstreams.
pub const ID_STEP: u16 = 5;
/// Rows of each shard's padded table (every one updated by a big
/// transaction).
pub const BIG_ROWS: u64 = 24_000;
/// Bytes of padding per row of the padded table.
pub const PAD_BYTES: u64 = 1000;
/// Each shard's generated-column table starts with 2^this rows.
const GENERATED_ROWS_LOG2: u32 = 10;

/// The main table's definition (also the downstream table's, created by
/// the runner before the task, with the audit trigger).
pub fn main_columns() -> &'static str {
    "(id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, \
     note VARCHAR(40) NULL, created_ms BIGINT NOT NULL)"
}

/// The generated-column table's definition.
fn generated_columns() -> &'static str {
    "(id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, b INT NOT NULL, \
     sum_ab BIGINT AS (a + b) VIRTUAL, \
     tag VARCHAR(40) AS (CONCAT('g', a, '/', b)) STORED, created_ms BIGINT NOT NULL)"
}

/// The padded table's definition: the unique key `u` keeps all its
/// changes on one lane.
fn padded_columns() -> &'static str {
    "(id BIGINT UNSIGNED NOT NULL PRIMARY KEY, u BIGINT UNSIGNED NOT NULL, n INT NOT NULL, \
     pad VARCHAR(1100) NOT NULL, UNIQUE KEY u (u))"
}

/// One merged table: its shards' prefix and a row checksum expression.
#[derive(Debug, Clone, Copy)]
pub struct Merged {
    /// Shard `k`'s table is `chaos.{prefix}_k`, merged into `chaos.{prefix}`.
    pub prefix: &'static str,
    /// `COUNT(*)` and a sum of row CRCs: the same on both sides when the
    /// rows are.
    pub aggregate: &'static str,
}

impl Merged {
    pub fn shard(&self, k: usize) -> String {
        format!("chaos.{}_{k}", self.prefix)
    }

    pub fn target(&self) -> String {
        format!("chaos.{}", self.prefix)
    }
}

/// Every merged table of a run.
pub const TABLES: [Merged; 3] = [
    Merged {
        prefix: "t",
        aggregate: "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, v, \
             IFNULL(note, '<null>'), created_ms, IFNULL(extra, '<null>')))), 0) AS UNSIGNED) FROM ",
    },
    Merged {
        prefix: "g",
        aggregate: "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, a, b, sum_ab, \
             tag, created_ms))), 0) AS UNSIGNED) FROM ",
    },
    Merged {
        prefix: "p",
        aggregate: "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, u, n, \
             CRC32(pad)))), 0) AS UNSIGNED) FROM ",
    },
];

/// The main table.
pub const MAIN: Merged = TABLES[0];

async fn run(
    conn: &mut mysql_async::Conn,
    what: &'static str,
    sql: String,
) -> Result<(), RunError> {
    conn.query_drop(sql).await.map_err(RunError::sql(what))
}

/// Creates shard `k`'s tables: `2^doublings` rows in the main table,
/// 2^10 in the generated-column table, [`BIG_ROWS`] padded rows.
pub async fn create_shard(
    conn: &mut mysql_async::Conn,
    k: usize,
    doublings: u32,
) -> Result<(), RunError> {
    run(
        conn,
        "creating chaos",
        "CREATE DATABASE IF NOT EXISTS chaos".into(),
    )
    .await?;
    let t = format!("chaos.t_{k}");
    run(
        conn,
        "creating a shard table",
        format!("CREATE TABLE {t} {}", main_columns()),
    )
    .await?;
    run(
        conn,
        "seeding a shard",
        format!("INSERT INTO {t} (v, note, created_ms) VALUES (0, 'initial', 0)"),
    )
    .await?;
    for _ in 0..doublings {
        run(
            conn,
            "seeding a shard",
            format!(
                "INSERT INTO {t} (v, note, created_ms) \
                 SELECT v, IF(id % 7 = 0, NULL, note), 0 FROM {t}"
            ),
        )
        .await?;
    }
    let g = format!("chaos.g_{k}");
    run(
        conn,
        "creating a generated-column table",
        format!("CREATE TABLE {g} {}", generated_columns()),
    )
    .await?;
    run(
        conn,
        "seeding a generated-column table",
        format!("INSERT INTO {g} (a, b, created_ms) VALUES (1, {k}, 0)"),
    )
    .await?;
    for _ in 0..GENERATED_ROWS_LOG2 {
        run(
            conn,
            "seeding a generated-column table",
            format!("INSERT INTO {g} (a, b, created_ms) SELECT a + 1, b + id % 3, 0 FROM {g}"),
        )
        .await?;
    }
    let p = format!("chaos.p_{k}");
    run(
        conn,
        "creating a padded table",
        format!("CREATE TABLE {p} {}", padded_columns()),
    )
    .await?;
    // MariaDB's sequence engine: seq_0_to_N is a table of 0..=N.
    run(
        conn,
        "seeding a padded table",
        format!(
            "INSERT INTO {p} (id, u, n, pad) SELECT seq * {ID_STEP} + {k}, seq * {ID_STEP} + {k}, \
             0, REPEAT('a', {PAD_BYTES}) FROM chaos.seq_0_to_{}",
            BIG_ROWS - 1
        ),
    )
    .await?;
    Ok(())
}

/// The big transaction: one `UPDATE` of every padded row of shard `k`.
pub fn big_update(k: usize) -> String {
    format!("UPDATE chaos.p_{k} SET n = n + 1, pad = REPEAT(CHAR(65 + (n + 1) % 26), {PAD_BYTES})")
}
