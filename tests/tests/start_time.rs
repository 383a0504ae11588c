//! `start-task --start-time` / `check-task --start-time` over real
//! processes: an incremental task begins at the first transaction written
//! at or after the time (in the upstream's time zone, or at an offset),
//! not before; a time that would be ignored (the task resumes at its
//! checkpoints) or cannot apply (the task copies first) is refused; a time
//! after everything pauses the subtask saying so.

use std::time::Duration;

use dm_tests::cluster::dmctl;
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const TABLE: &str = "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))";

fn task(name: &str, mode: &str, port: u16) -> String {
    format!(
        "name: {name}\ntask-mode: {mode}\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

/// Waits until the upstream's clock shows a later second than now, and
/// returns that second as the upstream's local time and as UTC.
async fn next_second(upstream: &MariaDb) -> (String, String) {
    let mut conn = upstream.conn().await.expect("upstream");
    let now: i64 = conn
        .query_first("SELECT UNIX_TIMESTAMP()")
        .await
        .expect("clock")
        .expect("a row");
    wait_until(
        "the upstream's clock moves to the next second",
        DEADLINE,
        Duration::from_millis(20),
        || async {
            let Ok(mut conn) = upstream.conn().await else {
                return Check::Pending("no connection".to_string());
            };
            let row: Option<(i64, String, String)> = conn
                .query_first(
                    "SELECT UNIX_TIMESTAMP(), DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%s+00:00')",
                )
                .await
                .ok()
                .flatten();
            match row {
                Some((s, local, utc)) if s > now => Check::Ready((local, utc)),
                other => Check::Pending(format!("{other:?}")),
            }
        },
    )
    .await
    .expect("the clock moves")
}

async fn dmctl_in(c: &OneSource, args: &[&str]) -> Value {
    dmctl(&c.addrs, args).await.expect("dmctl answers")
}

fn write_task(c: &OneSource, name: &str, mode: &str) -> String {
    let path = c.dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, task(name, mode, c.downstream.port())).expect("task file");
    path.display().to_string()
}

async fn wait_ids(c: &OneSource, task: &str, want: &[i32]) {
    let want: Vec<Vec<mysql_async::Value>> = want
        .iter()
        .map(|id| vec![mysql_async::Value::Bytes(id.to_string().into_bytes())])
        .collect();
    wait_until(
        &format!("downstream ids {want:?}"),
        DEADLINE,
        Duration::from_millis(50),
        || {
            let want = want.clone();
            async move {
                let got = query_rows(&c.downstream, "SELECT id FROM app.t ORDER BY id").await;
                if got == want {
                    return Check::Ready(());
                }
                let status = dmctl(&c.addrs, &["query-status", task]).await.ok();
                Check::Pending(format!("{got:?}; {status:?}"))
            }
        },
    )
    .await
    .expect("rows arrive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incremental_task_begins_at_the_first_transaction_at_or_after_the_start_time() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            TABLE,
            "INSERT INTO app.t VALUES (1, 'before'), (2, 'before')",
        ],
    )
    .await
    .expect("cluster");
    run_sql(&c.downstream, &["CREATE DATABASE app", TABLE])
        .await
        .expect("downstream table");

    let (local, _) = next_second(&c.upstream).await;
    run_sql(
        &c.upstream,
        &[
            "INSERT INTO app.t VALUES (3, 'after'), (4, 'after')",
            "INSERT INTO app.t VALUES (5, 'after')",
        ],
    )
    .await
    .expect("rows after the time");

    // The form is checked by dmctl; the task mode and checkpoints by the master.
    let file = write_task(&c, "timed", "incremental");
    let answer = dmctl_in(&c, &["start-task", &file, "--start-time", "yesterday"]).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("'2006-01-02 15:04:05'"),
        "{answer}"
    );
    let copying = write_task(&c, "copying", "all");
    for command in ["check-task", "start-task"] {
        let answer = dmctl_in(&c, &[command, &copying, "--start-time", &local]).await;
        assert_eq!(answer["result"], false, "{answer}");
        assert!(
            answer["msg"]
                .as_str()
                .unwrap_or_default()
                .contains("needs task-mode: incremental"),
            "{command}: {answer}"
        );
    }
    let answer = dmctl_in(&c, &["check-task", &file, "--start-time", &local]).await;
    assert_eq!(answer["result"], true, "{answer}");
    // Without a time, a task with no `meta` and no checkpoint has no start.
    let answer = dmctl_in(&c, &["check-task", &file]).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer
            .to_string()
            .contains("task-mode incremental needs a start position for this source"),
        "{answer}"
    );

    // The upstream's local time, without an offset.
    let answer = dmctl_in(&c, &["start-task", &file, "--start-time", &local]).await;
    assert_eq!(answer["result"], true, "{answer}");
    wait_ids(&c, "timed", &[3, 4, 5]).await;

    // A start that would resume at the checkpoints would ignore the time.
    let answer = dmctl_in(&c, &["stop-task", "timed"]).await;
    assert_eq!(answer["result"], true, "{answer}");
    let (_, utc) = next_second(&c.upstream).await;
    run_sql(&c.upstream, &["INSERT INTO app.t VALUES (6, 'later')"])
        .await
        .expect("a later row");
    let answer = dmctl_in(&c, &["start-task", &file, "--start-time", &utc]).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer
            .to_string()
            .contains("--remove-meta to begin at the time"),
        "{answer}"
    );
    // With --remove-meta: an instant with an offset; only the later row.
    let answer = dmctl_in(
        &c,
        &["start-task", &file, "--remove-meta", "--start-time", &utc],
    )
    .await;
    assert_eq!(answer["result"], true, "{answer}");
    wait_ids(&c, "timed", &[3, 4, 5, 6]).await;

    // Nothing written at or after a time years ahead: the subtask pauses
    // in its sync.
    let late = write_task(&c, "late", "incremental");
    let answer = dmctl_in(
        &c,
        &["start-task", &late, "--start-time", "2037-01-01 00:00:00"],
    )
    .await;
    assert_eq!(answer["result"], true, "{answer}");
    wait_until(
        "the late task pauses saying why",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let status = dmctl(&c.addrs, &["query-status", "late"])
                .await
                .map(|s| s.to_string())
                .unwrap_or_default();
            if status.contains("start-time 2037-01-01 00:00:00 is too late")
                && status.contains("\"unit\":\"Sync\"")
            {
                Check::Ready(())
            } else {
                Check::Pending(status)
            }
        },
    )
    .await
    .expect("paused");
}
