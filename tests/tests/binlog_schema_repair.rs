//! `binlog-schema update` repairs a subtask whose tracked definition is
//! wrong, over real processes, with the definition given as a file saved
//! from MariaDB's own `SHOW CREATE TABLE` (its `ZEROFILL` and all):
//!
//! - FULL row metadata: an incremental task starts at a position before an
//!   `ALTER TABLE ... MODIFY b INT AFTER id`, so the definition seeded at
//!   start (the upstream's current one) does not match the row events
//!   written before the ALTER. The subtask pauses with the mismatch, named;
//!   the definition the table had at the start position is given, the task
//!   resumes, and the downstream equals the upstream (`check-diff` clean).
//! - NO_LOG (no column names): a definition with two same-type columns
//!   swapped is given by mistake; nothing in the row events can tell, so the
//!   rows written then arrive with the two values swapped, and `check-diff`
//!   reports exactly those rows. The upstream's definition is given, the
//!   task resumes, and every row written since (new rows, and the next
//!   update of each wrong row) arrives exactly: `check-diff` clean.

use std::time::Duration;

use dm_tests::cluster::{dmctl, paused_subtask, subtasks_of, wait_syncing, wait_task_stage};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::{wait_until, Check, RowMetadata};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK: &str = "repair";
const ROWS: &str = "SELECT id, a, b, z FROM app.t ORDER BY id";

/// The table as first created; `z` makes MariaDB print `zerofill`.
const CREATE: &str =
    "CREATE TABLE app.t (id INT PRIMARY KEY, a INT, b INT, z SMALLINT(5) UNSIGNED ZEROFILL NOT NULL DEFAULT 7)";

fn task(mode: &str, meta: &str) -> String {
    format!(
        "name: {TASK}\ntask-mode: {mode}\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n{meta}block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

async fn ctl(c: &OneSource, args: &[&str]) -> Value {
    dmctl(&c.addrs, args).await.expect("dmctl answers")
}

async fn ok(c: &OneSource, args: &[&str]) -> Value {
    let answer = ctl(c, args).await;
    assert_eq!(answer["result"], true, "{args:?}: {answer}");
    answer
}

/// Writes what the upstream's `SHOW CREATE TABLE app.t` prints now to
/// `name` in the cluster's directory; returns the file's path.
async fn save_show_create(c: &OneSource, name: &str) -> String {
    let mut conn = c.upstream.conn().await.expect("upstream");
    let (_, create): (String, String) = conn
        .query_first("SHOW CREATE TABLE app.t")
        .await
        .expect("show create")
        .expect("a row");
    assert!(create.contains("zerofill"), "{create}");
    let path = c.dir.path().join(name);
    std::fs::write(&path, &create).expect("write the schema file");
    path.display().to_string()
}

async fn upstream_sql(c: &OneSource, statements: &[&str]) {
    let mut conn = c.upstream.conn().await.expect("upstream");
    for sql in statements {
        conn.query_drop(*sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Pauses the task and waits until it is paused.
async fn pause(c: &OneSource) {
    ok(c, &["pause-task", TASK]).await;
    wait_task_stage(&c.addrs, TASK, "Paused", DEADLINE)
        .await
        .expect("paused");
}

/// Resumes the task and waits until its subtask runs again (a status
/// from before the resume may still show it paused).
async fn resume(c: &OneSource) {
    ok(c, &["resume-task", TASK]).await;
    wait_until(
        "the subtask running again",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let answer = match dmctl(&c.addrs, &["query-status", TASK]).await {
                Ok(a) => a,
                Err(e) => return Check::Pending(e.to_string()),
            };
            let running = subtasks_of(&answer, TASK)
                .iter()
                .all(|(_, t)| t["stage"] == "Running");
            if running {
                Check::Ready(())
            } else {
                Check::Pending(answer.to_string())
            }
        },
    )
    .await
    .expect("running");
}

async fn update_schema(c: &OneSource, file: &str) {
    let answer = ok(
        c,
        &["binlog-schema", "update", TASK, "mysql1", "app", "t", file],
    )
    .await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
}

/// `check-diff`'s answer: (rows differing, [(kind, key, downstream)]).
async fn check_diff(c: &OneSource) -> (u64, Vec<(String, String, String)>) {
    let answer = ok(c, &["check-diff", TASK]).await;
    let differences = answer["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["differences"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (text("kind"), text("key"), text("downstream"))
        })
        .collect();
    let differing = answer["rowsDiffering"]
        .as_u64()
        .unwrap_or_else(|| panic!("rowsDiffering in {answer}"));
    (differing, differences)
}

/// Waits until the downstream has the upstream's rows of `app.t`.
async fn wait_same(c: &OneSource) {
    c.wait_same_unpaused(TASK, ROWS, DEADLINE)
        .await
        .expect("the downstream equals the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mismatch_under_full_metadata_pauses_and_binlog_schema_update_repairs_it() {
    let c = OneSource::start_logging(
        1,
        RowMetadata::Full,
        &[
            "CREATE DATABASE app",
            CREATE,
            "INSERT INTO app.t (id, a, b) VALUES (1, 1, 100)",
        ],
    )
    .await
    .expect("cluster");
    // The downstream holds what the upstream held at the start position.
    let mut down = c.downstream.conn().await.expect("downstream");
    for sql in [
        "CREATE DATABASE app",
        CREATE,
        "INSERT INTO app.t (id, a, b) VALUES (1, 1, 100)",
    ] {
        down.query_drop(sql).await.expect(sql);
    }
    let definition_at_start = save_show_create(&c, "t.sql").await;
    let (file, pos) = c.upstream.binlog_end().await.expect("binlog end");
    // Rows written with (id, a, b, z), then b moves after id.
    upstream_sql(
        &c,
        &[
            "INSERT INTO app.t (id, a, b) VALUES (2, 2, 200), (3, 3, 300)",
            "UPDATE app.t SET a = 10, b = 1000 WHERE id = 1",
            "ALTER TABLE app.t MODIFY b INT AFTER id",
            "INSERT INTO app.t (id, a, b) VALUES (4, 4, 400)",
        ],
    )
    .await;

    let meta = format!("    meta:\n      binlog-name: \"{file}\"\n      binlog-pos: {pos}\n");
    c.start_task(TASK, &task("incremental", &meta))
        .await
        .expect("started");
    // The definition seeded at start is (id, b, a, z): the first row event
    // names (id, a, b, z).
    let paused = wait_until(
        "the subtask paused on the mismatch",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = match dmctl(&c.addrs, &["query-status", TASK]).await {
                Ok(a) => a,
                Err(e) => return Check::Pending(e.to_string()),
            };
            match paused_subtask(&answer, TASK) {
                Some(paused) => Check::Ready(paused),
                None => Check::Pending(answer.to_string()),
            }
        },
    )
    .await
    .expect("paused");
    assert!(
        paused.contains("a row event of `app`.`t` does not match the table's tracked definition (version ")
            && paused.contains("column 2 is `a` in the binlog and `b` in the definition; correct the definition with `binlog-schema update`, then resume-task"),
        "{paused}"
    );
    // Nothing was written with the wrong definition.
    assert_eq!(
        query_rows(&c.downstream, ROWS).await.len(),
        1,
        "only the row from before the start position"
    );

    // The repair: the definition the table had at the start position, as
    // SHOW CREATE TABLE printed it.
    update_schema(&c, &definition_at_start).await;
    resume(&c).await;
    wait_same(&c).await;
    wait_syncing(&c.addrs, TASK, DEADLINE)
        .await
        .expect("replicating");
    let rows = query_rows(&c.downstream, ROWS).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let (differing, differences) = check_diff(&c).await;
    assert_eq!((differing, differences), (0, Vec::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swapped_columns_under_no_log_are_caught_by_check_diff_and_repaired() {
    let c = OneSource::start_logging(
        1,
        RowMetadata::NoLog,
        &[
            "CREATE DATABASE app",
            CREATE,
            "INSERT INTO app.t (id, a, b) VALUES (1, 1, 100)",
        ],
    )
    .await
    .expect("cluster");
    c.start_task(TASK, &task("all", "")).await.expect("started");
    wait_same(&c).await;
    wait_syncing(&c.addrs, TASK, DEADLINE)
        .await
        .expect("replicating");

    // A wrong definition, by mistake: a and b swapped (same type).
    pause(&c).await;
    let wrong = c.dir.path().join("wrong.sql");
    std::fs::write(
        &wrong,
        "CREATE TABLE `t` (`id` int(11) NOT NULL, `b` int(11) DEFAULT NULL, `a` int(11) DEFAULT NULL, `z` smallint(5) unsigned zerofill NOT NULL DEFAULT 00007, PRIMARY KEY (`id`))",
    )
    .expect("write");
    update_schema(&c, &wrong.display().to_string()).await;
    resume(&c).await;
    wait_syncing(&c.addrs, TASK, DEADLINE)
        .await
        .expect("replicating");
    upstream_sql(
        &c,
        &["INSERT INTO app.t (id, a, b) VALUES (2, 2, 200), (3, 3, 300)"],
    )
    .await;
    wait_until(
        "rows 2 and 3 downstream",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let rows = query_rows(&c.downstream, ROWS).await;
            if rows.len() == 3 {
                Check::Ready(())
            } else {
                Check::Pending(format!("{rows:?}"))
            }
        },
    )
    .await
    .expect("arrived");
    // Nothing paused: the values are swapped, which check-diff reports.
    let status = ctl(&c, &["query-status", TASK]).await;
    assert_eq!(paused_subtask(&status, TASK), None, "{status}");
    let (differing, differences) = check_diff(&c).await;
    assert_eq!(differing, 2, "{differences:?}");
    let found: Vec<(&str, &str)> = differences
        .iter()
        .map(|(kind, key, _)| (kind.as_str(), key.as_str()))
        .collect();
    assert_eq!(found, [("changed", "id=2"), ("changed", "id=3")]);
    assert!(
        differences[0].2.contains("a=200") && differences[0].2.contains("b=2"),
        "{differences:?}"
    );

    // The repair: the upstream's definition, saved from SHOW CREATE TABLE.
    pause(&c).await;
    let right = save_show_create(&c, "t.sql").await;
    update_schema(&c, &right).await;
    resume(&c).await;
    // Every row written since arrives exactly: a new one, and the next
    // update of each row written wrong.
    upstream_sql(
        &c,
        &[
            "INSERT INTO app.t (id, a, b) VALUES (4, 4, 400)",
            "UPDATE app.t SET a = a + 10, b = b + 10 WHERE id IN (2, 3)",
        ],
    )
    .await;
    wait_same(&c).await;
    let (differing, differences) = check_diff(&c).await;
    assert_eq!((differing, differences), (0, Vec::new()));
}
