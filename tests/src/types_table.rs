//! The type-coverage table: every common column type at its limits
//! (signed and UNSIGNED integers, decimals, floats, text in utf8mb4 and
//! latin1, binary data, dates and times with fractions and the zero
//! TIMESTAMP, ENUM, SET, JSON, BIT, NULL), copied, then changed by inserts,
//! updates (of the key too) and deletes, with DDL on the way; the
//! downstream must equal the upstream exactly after each step.
//!
//! Shared by `sync_types.rs` (upstream binlog with FULL row metadata) and
//! `no_column_names.rs` (NO_LOG and MINIMAL: row events without column
//! names, signedness or character sets), so both run the same statements.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::cluster::wait_syncing;
use crate::error::{HarnessError, Result};
use crate::scenario::OneSource;

/// How long each step may take to arrive downstream.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The task's name.
pub const TASK_NAME: &str = "types";

/// Task `types` (mode all) over schema `app` of source `mysql1`; `PORT` is
/// the downstream's (see [`OneSource::start_task`]).
pub const TASK: &str = "name: types\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// The table.
pub const CREATE: &str = "CREATE TABLE app.types (
    id INT PRIMARY KEY,
    ti TINYINT, tu TINYINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
    de DECIMAL(30,6), fl FLOAT, dbl DOUBLE,
    ch CHAR(10), vc VARCHAR(100), tx TEXT, bl BLOB, vb VARBINARY(20),
    da DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR,
    en ENUM('a','b','c'), st SET('x','y','z'), js JSON, bt BIT(10),
    su SMALLINT UNSIGNED, mu MEDIUMINT UNSIGNED, mi MEDIUMINT, iu INT UNSIGNED,
    l1 VARCHAR(30) CHARACTER SET latin1, lt TEXT CHARACTER SET latin1
) DEFAULT CHARSET=utf8mb4";

/// Rows: every column at one limit, only the key, every column at the
/// other limit.
pub const ROWS: &[&str] = &[
    "INSERT INTO app.types VALUES (1, -128, 255, -9223372036854775808, 18446744073709551615, \
     -12345678901234.123456, 1.5, -2.25e-300, 'ch', 'héllo 🐬', REPEAT('long text ', 100), \
     0x00FF10, 0x0000, '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', \
     '-838:59:59.00', 2155, 'c', 'x,z', '{\"k\": [1, \"v\", null]}', b'1000000001', \
     65535, 16777215, 8388607, 4294967295, 'Ærøskøbing ÿ', REPEAT('café ', 60))",
    "INSERT INTO app.types (id) VALUES (2)",
    "INSERT INTO app.types VALUES (3, 127, 0, 9223372036854775807, 0, 0.000001, -0, 0, '', '', '', '', '', \
     '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901, 'a', '', '[]', b'0', \
     0, 0, -8388608, 0, '', '')",
];

/// What the upstream holds before the task starts: the table, the
/// key-only row and a zero TIMESTAMP (both copied).
pub const SEED: &[&str] = &[
    "CREATE DATABASE app",
    CREATE,
    "INSERT INTO app.types (id) VALUES (2)",
    "INSERT INTO app.types (id, ts) VALUES (42, '0000-00-00 00:00:00')",
];

/// Waits until the downstream's `app.<table>` equals the upstream's, row
/// for row and byte for byte; fails at once when a subtask pauses.
pub async fn wait_equal(c: &OneSource, table: &str) -> Result<()> {
    c.wait_same_unpaused(
        TASK_NAME,
        &format!("SELECT * FROM app.{table} ORDER BY id"),
        DEADLINE,
    )
    .await
}

/// Starts [`TASK`] on `c` (whose upstream ran [`SEED`]) and drives the
/// table through its steps, checking the downstream after each.
pub async fn replicate(c: &OneSource) -> Result<()> {
    c.start_task(TASK_NAME, TASK).await?;
    wait_syncing(&c.addrs, TASK_NAME, DEADLINE).await?;
    wait_equal(c, "types").await?;

    // Inserts, updates (incl. of the key), deletes.
    crate::tutorial::run_sql(
        &c.upstream,
        &[
            ROWS[0],
            ROWS[2],
            "UPDATE app.types SET vc = 'ändern', bu = bu - 1, js = JSON_SET(js, '$.n', 5) WHERE id = 1",
            "UPDATE app.types SET l1 = 'Çà et là', su = su - 1, mu = 16777215, tu = 254 WHERE id = 1",
            "UPDATE app.types SET id = 20, ti = NULL WHERE id = 3",
            "UPDATE app.types SET tu = 255, iu = 4294967295, bu = 18446744073709551615, lt = 'naïve' WHERE id = 20",
            "DELETE FROM app.types WHERE id = 2",
            // The zero TIMESTAMP, synced.
            "INSERT INTO app.types (id, ts) VALUES (41, '0000-00-00 00:00:00')",
        ],
    )
    .await?;
    wait_equal(c, "types").await?;

    // DDL on the way: a new column, a new table, a schema the rules skip.
    crate::tutorial::run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.types ADD COLUMN extra INT NOT NULL DEFAULT 7",
            "INSERT INTO app.types (id, extra) VALUES (30, 8)",
            "UPDATE app.types SET extra = 9, mu = 1 WHERE id = 1",
            "CREATE TABLE app.t2 (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO app.t2 VALUES (1, 'one'), (2, 'two'), (18446744073709551615, 'max')",
            "CREATE DATABASE other",
            "CREATE TABLE other.ignored (id INT)",
            "INSERT INTO other.ignored VALUES (1)",
        ],
    )
    .await?;
    wait_equal(c, "types").await?;
    wait_equal(c, "t2").await?;
    let mut conn = c.downstream.conn().await?;
    let other: Option<String> = conn
        .query_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'other'",
        )
        .await
        .map_err(|e| HarnessError::Task(format!("reading the downstream's schemata: {e}")))?;
    if other.is_some() {
        return Err(HarnessError::Task(
            "the block-allow list should keep `other` out of the downstream".into(),
        ));
    }
    Ok(())
}
