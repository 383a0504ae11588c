//! A DDL the downstream refuses with "already exists": a column, an index
//! that is already there with the same definition counts as applied (a
//! replay); a column there with another type pauses the subtask with both
//! definitions, before any row reaches the wrong column; once the
//! operator made the downstream match, `resume-task` goes on.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, HarnessError, MariaDb};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: dup\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// (id, v, same, c) of every row.
type Rows = Vec<(i32, String, i32, Option<String>)>;

async fn rows(server: &MariaDb) -> Rows {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query("SELECT id, v, same, CAST(c AS CHAR) FROM app.t ORDER BY id")
        .await
        .unwrap_or_default()
}

async fn status(addrs: &str) -> Result<Value, HarnessError> {
    let answer = dmctl(addrs, &["query-status", "dup"]).await?;
    subtasks_of(&answer, "dup")
        .first()
        .map(|(_, s)| (*s).clone())
        .ok_or_else(|| HarnessError::Task(format!("no subtask: {answer}")))
}

/// Waits until the downstream has `want`, failing at once on a pause.
async fn wait_rows(c: &OneSource, want: Rows) {
    let addrs = c.addrs.as_str();
    let want = &want;
    wait_until(
        "downstream rows",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            match status(addrs).await {
                Ok(s) if s["stage"] == "Paused" => {
                    return Check::Abort(HarnessError::Task(format!("paused: {s}")))
                }
                Err(e) => return Check::Pending(e.to_string()),
                Ok(_) => {}
            }
            let got = rows(&c.downstream).await;
            if got == *want {
                Check::Ready(())
            } else {
                Check::Pending(format!("{got:?}"))
            }
        },
    )
    .await
    .expect("rows downstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_existing_column_is_a_replay_only_with_the_same_definition() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
        ],
    )
    .await
    .expect("cluster");
    let addrs = c.addrs.as_str();
    c.start_task("dup", TASK).await.expect("started");
    wait_syncing(addrs, "dup", DEADLINE)
        .await
        .expect("sync unit");
    // The downstream already has `same` and `ix` as the upstream will
    // create them, and `c` with another type.
    run_sql(&c.upstream, &["INSERT INTO app.t VALUES (0, 'zero')"])
        .await
        .expect("upstream row");
    wait_until(
        "the copy's table",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let mut conn = c.downstream.conn().await.ok()?;
            let n: Option<u64> = conn.query_first("SELECT COUNT(*) FROM app.t").await.ok()?;
            (n == Some(1)).then_some(())
        },
    )
    .await
    .expect("row 0 downstream");
    run_sql(
        &c.downstream,
        &[
            "ALTER TABLE app.t ADD COLUMN same INTEGER NOT NULL DEFAULT '5', ADD INDEX ix (v)",
            "ALTER TABLE app.t ADD COLUMN c INT",
        ],
    )
    .await
    .expect("downstream columns");

    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN same INT(11) NOT NULL DEFAULT 5",
            "ALTER TABLE app.t ADD INDEX ix (v)",
            "INSERT INTO app.t (id, v, same) VALUES (1, 'one', 6)",
        ],
    )
    .await
    .expect("the same column upstream");
    wait_rows(
        &c,
        vec![(0, "zero".into(), 5, None), (1, "one".into(), 6, None)],
    )
    .await;

    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN c VARCHAR(10)",
            "INSERT INTO app.t VALUES (2, 'two', 7, 'abc')",
        ],
    )
    .await
    .expect("another column upstream");
    let paused = wait_until(
        "paused at the DDL",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            match status(addrs).await {
                Ok(s) if s["stage"] == "Paused" => Check::Ready(s["result"].to_string()),
                Ok(s) => Check::Pending(s.to_string()),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
    .expect("a pause");
    assert!(
        paused.contains(
            "column `c` exists downstream with another definition; statement: c VARCHAR(10); downstream: `c` INT(11) DEFAULT NULL"
        ),
        "{paused}"
    );
    assert!(
        paused.contains("ALTER TABLE `app`.`t` ADD COLUMN c VARCHAR(10)"),
        "{paused}"
    );
    // Nothing after the DDL was applied.
    assert_eq!(rows(&c.downstream).await.len(), 2);

    // The operator makes the downstream match; the statement runs again
    // and now counts as applied.
    run_sql(&c.downstream, &["ALTER TABLE app.t MODIFY c VARCHAR(10)"])
        .await
        .expect("downstream fixed");
    let resumed = dmctl(addrs, &["resume-task", "dup"]).await.expect("resume");
    assert_eq!(resumed["result"], true, "{resumed}");
    wait_until("resumed", DEADLINE, Duration::from_millis(50), || async {
        status(addrs).await.ok().filter(|s| s["stage"] == "Running")
    })
    .await
    .expect("running again");
    wait_rows(
        &c,
        vec![
            (0, "zero".into(), 5, None),
            (1, "one".into(), 6, None),
            (2, "two".into(), 7, Some("abc".into())),
        ],
    )
    .await;
}
