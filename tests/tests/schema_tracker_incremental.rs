//! An incremental task (`task-mode: incremental`, a `meta` position, the
//! downstream copied by hand) on an upstream that logs no column names
//! (`binlog_row_metadata=NO_LOG`): no copy snapshot seeds the schema
//! tracker, so the sync reads the table definitions from the upstream at
//! its start and says so in `query-status` (the sync's `warnings`: a DDL
//! between the start position and now would make them wrong). Rows then
//! replicate exactly through a DDL.
//!
//! The worker is SIGKILLed after that DDL reached the stored definitions;
//! while it is down the upstream writes rows of the post-DDL shape, runs a
//! second DDL and writes rows of that shape. The restarted worker must
//! decode from its checkpoint with the stored (post-first-DDL) definition:
//! reading the upstream's current one again would decode the rows written
//! before the second DDL with the wrong columns.

use std::time::{Duration, Instant};

use dm_tests::cluster::{dmctl, subtasks_of, wait_bound};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, RowMetadata};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK_NAME: &str = "inc";
const WARNING: &str = "the table definitions were read from the upstream at start";

/// Run on the upstream, and on the downstream as the copy made by hand.
const SEED: &[&str] = &[
    "CREATE DATABASE app",
    "CREATE TABLE app.inc (id INT NOT NULL PRIMARY KEY, n INT NOT NULL DEFAULT 0, \
     u INT UNSIGNED NOT NULL, l VARCHAR(20) CHARACTER SET latin1 NOT NULL DEFAULT 'ü') \
     DEFAULT CHARSET=utf8mb4",
    "INSERT INTO app.inc (id, u, l) SELECT seq, 4294967295 - seq, CONCAT('ç', seq) FROM app.seq_1_to_50",
];

/// Before the first DDL: the columns as seeded.
const BEFORE: &[&str] = &[
    "INSERT INTO app.inc (id, u, l) VALUES (101, 4294967295, 'ÿø'), (102, 0, 'é')",
    "UPDATE app.inc SET n = n + 1 WHERE id <= 10",
    "DELETE FROM app.inc WHERE id = 50",
];

/// A column added first, one made UNSIGNED, one moved.
const DDL1: &str = "ALTER TABLE app.inc ADD COLUMN f VARCHAR(10) CHARACTER SET latin1 NOT NULL DEFAULT 'à' FIRST, \
     MODIFY COLUMN n BIGINT UNSIGNED NOT NULL DEFAULT 0, MODIFY COLUMN l VARCHAR(20) CHARACTER SET latin1 NOT NULL DEFAULT 'ü' AFTER f";

const AFTER_DDL1: &[&str] = &[
    "INSERT INTO app.inc (f, id, u, l, n) VALUES ('ñ', 103, 7, 'ß', 18446744073709551615)",
    "UPDATE app.inc SET n = n + 1 WHERE id BETWEEN 5 AND 15",
    "DELETE FROM app.inc WHERE id = 49",
];

/// Written while the worker is down.
const WHILE_DOWN: &[&str] = &[
    "INSERT INTO app.inc (f, id, u, l) VALUES ('ö', 104, 4294967294, 'æ')",
    "UPDATE app.inc SET n = n + 1, f = 'è' WHERE id BETWEEN 10 AND 20",
    "DELETE FROM app.inc WHERE id = 48",
    "ALTER TABLE app.inc DROP COLUMN l, ADD COLUMN t VARCHAR(5) NOT NULL DEFAULT '🐬' AFTER id",
    "INSERT INTO app.inc (f, id, t, u) VALUES ('ø', 105, 'hé', 1)",
    "UPDATE app.inc SET n = n + 1 WHERE id BETWEEN 15 AND 25",
];

const ROWS: &str = "SELECT * FROM app.inc ORDER BY id";
const COLUMNS: &str = "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
     CHARACTER_SET_NAME FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'inc' ORDER BY ORDINAL_POSITION";

fn task(port: u16, file: &str, pos: u64) -> String {
    format!(
        "name: inc\ntask-mode: incremental\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    meta:\n      binlog-name: \"{file}\"\n      binlog-pos: {pos}\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

/// The stored state of `mysql1` (the newest row), as text.
async fn stored_state(c: &OneSource) -> String {
    let Ok(mut conn) = c.downstream.conn().await else {
        return String::new();
    };
    conn.query_first::<String, _>(
        "SELECT state FROM dm_meta.inc_schema WHERE source_id = 'mysql1' ORDER BY seq DESC LIMIT 1",
    )
    .await
    .ok()
    .flatten()
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incremental_task_seeds_the_tracker_at_start_and_resumes_with_the_stored_one() {
    let started = Instant::now();
    let mut c = OneSource::start_logging(1, RowMetadata::NoLog, SEED)
        .await
        .expect("cluster");
    run_sql(&c.downstream, SEED)
        .await
        .expect("the copy made by hand");
    let (file, pos) = c.upstream.binlog_end().await.expect("binlog end");
    let yaml = task(c.downstream.port(), &file, pos);
    dm_tests::scenario::start_task(&c.addrs, c.dir.path(), TASK_NAME, &yaml)
        .await
        .expect("started");

    // The warning, in the sync's status.
    let addrs = c.addrs.clone();
    let warnings = wait_until(
        "the sync's seeding warning",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let addrs = addrs.clone();
            async move {
                let status = match dmctl(&addrs, &["query-status", TASK_NAME]).await {
                    Ok(s) => s,
                    Err(e) => return Check::Pending(e.to_string()),
                };
                let warnings: Vec<String> = subtasks_of(&status, TASK_NAME)
                    .iter()
                    .flat_map(|(_, s)| s["sync"]["warnings"].as_array().cloned())
                    .flatten()
                    .filter_map(|w| w.as_str().map(String::from))
                    .collect();
                if warnings.iter().any(|w| w.contains(WARNING)) {
                    Check::Ready(warnings)
                } else {
                    Check::Pending(status.to_string())
                }
            }
        },
    )
    .await
    .expect("query-status shows the warning");
    let warning = warnings
        .iter()
        .find(|w| w.contains(WARNING))
        .expect("found");
    assert!(
        warning.contains(&file),
        "names the start position: {warning}"
    );
    assert!(warning.contains("binlog-schema update"), "{warning}");

    run_sql(&c.upstream, BEFORE).await.expect("writes");
    c.wait_same_unpaused(TASK_NAME, ROWS, DEADLINE)
        .await
        .expect("rows before the DDL");
    run_sql(&c.upstream, &[DDL1]).await.expect("DDL");
    run_sql(&c.upstream, AFTER_DDL1).await.expect("writes");
    c.wait_same_unpaused(TASK_NAME, ROWS, DEADLINE)
        .await
        .expect("rows after the DDL");
    c.wait_same_unpaused(TASK_NAME, COLUMNS, DEADLINE)
        .await
        .expect("columns after the DDL");
    wait_until(
        "the post-DDL definition stored",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let state = stored_state(&c).await;
            (state.contains("`f`") || state.contains("\"f\"")).then_some(())
        },
    )
    .await
    .expect("the stored definitions have the DDL's column");

    let worker = c.bound.clone();
    let index = c.workers.index_of(&worker).expect("ours");
    c.workers.kill(index).expect("SIGKILL the worker");
    run_sql(&c.upstream, WHILE_DOWN)
        .await
        .expect("writes and a DDL while the worker is down");
    c.workers.spawn(index).expect("restart the worker");
    wait_bound(&c.addrs, "mysql1", None, DEADLINE)
        .await
        .expect("bound again");
    c.wait_same_unpaused(TASK_NAME, ROWS, DEADLINE)
        .await
        .expect("rows of both shapes after the restart");
    c.wait_same_unpaused(TASK_NAME, COLUMNS, DEADLINE)
        .await
        .expect("columns after the second DDL");
    c.wait_running(TASK_NAME, DEADLINE)
        .await
        .expect("the subtask runs");
    println!("done after {:?}", started.elapsed());
}
