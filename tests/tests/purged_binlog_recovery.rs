//! A subtask paused because the upstream purged the binlog it reads next
//! says what recovers it, and that recovery works, over real processes:
//! the pause's workaround names the steps (resume-task and starting again
//! cannot help: the changes exist nowhere else), and following them (stop,
//! drop the task's tables downstream, start-task --remove-meta at
//! task-mode all) brings the downstream back to the upstream, row for row,
//! replicating from there.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing, wait_task_stage};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: purged\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

async fn rows(server: &MariaDb) -> Vec<(i32, i32)> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query("SELECT id, v FROM app.t ORDER BY id")
        .await
        .unwrap_or_default()
}

/// The subtask's first error once it is paused by one.
async fn paused_error(addrs: &str) -> Value {
    wait_until(
        "the subtask paused by an error",
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let status = match dmctl(addrs, &["query-status", "purged"]).await {
                Ok(s) => s,
                Err(e) => return Check::Pending(e.to_string()),
            };
            match subtasks_of(&status, "purged").first() {
                Some((_, t)) if t["stage"] == "Paused" && t["result"]["errors"].is_array() => {
                    Check::Ready(t["result"]["errors"][0].clone())
                }
                _ => Check::Pending(status.to_string()),
            }
        },
    )
    .await
    .expect("paused by an error")
}

async fn wait_equal(c: &OneSource) {
    let (upstream, downstream, addrs) = (&c.upstream, &c.downstream, c.addrs.as_str());
    wait_until(
        "app.t equal downstream",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let want = rows(upstream).await;
            let got = rows(downstream).await;
            if want == got {
                return Check::Ready(());
            }
            let status = dmctl(addrs, &["query-status", "purged"]).await.ok();
            Check::Pending(format!(
                "upstream {want:?}, downstream {got:?}; {}",
                status.map(|s| s.to_string()).unwrap_or_default()
            ))
        },
    )
    .await
    .expect("equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purged_binlog_pause_names_the_recovery_that_works() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)",
            "INSERT INTO app.t VALUES (1, 1), (2, 2)",
        ],
    )
    .await
    .expect("cluster");
    let addrs = c.addrs.clone();
    let file = c.dir.path().join("purged.yaml");
    std::fs::write(
        &file,
        TASK.replace("PORT", &c.downstream.port().to_string()),
    )
    .expect("task file");
    let file = file.display().to_string();
    c.start_task("purged", TASK).await.expect("started");
    wait_syncing(&addrs, "purged", DEADLINE)
        .await
        .expect("sync unit");
    wait_equal(&c).await;

    // While the task is paused, the upstream moves on and purges the
    // binlog the subtask would read next.
    let paused = dmctl(&addrs, &["pause-task", "purged"])
        .await
        .expect("answers");
    assert_eq!(paused["result"], true, "{paused}");
    wait_task_stage(&addrs, "purged", "Paused", DEADLINE)
        .await
        .expect("paused");
    run_sql(
        &c.upstream,
        &[
            "INSERT INTO app.t VALUES (3, 3)",
            "UPDATE app.t SET v = 20 WHERE id = 2",
            "FLUSH BINARY LOGS",
            "INSERT INTO app.t VALUES (4, 4)",
            "FLUSH BINARY LOGS",
        ],
    )
    .await
    .expect("upstream writes");
    let mut conn = c.upstream.conn().await.expect("conn");
    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("logs");
    let newest = logs.last().expect("a binlog").0.clone();
    conn.query_drop(format!("PURGE BINARY LOGS TO '{newest}'"))
        .await
        .expect("purge");
    drop(conn);
    let resumed = dmctl(&addrs, &["resume-task", "purged"])
        .await
        .expect("answers");
    assert_eq!(resumed["result"], true, "{resumed}");

    let error = paused_error(&addrs).await;
    let message = error["Message"].as_str().expect("message");
    assert!(message.contains("ERROR 1236 ("), "{error}");
    assert_eq!(
        error["Workaround"],
        "the upstream no longer has the binlog this subtask reads next (purged), so neither resume-task nor \
         start-task again recovers it: stop-task purged; drop the task's tables downstream (the full copy writes \
         only into empty tables); then start-task --remove-meta with the task file at task-mode: all, which copies \
         the data again and replicates from there",
        "{error}"
    );

    // The steps it names.
    let stopped = dmctl(&addrs, &["stop-task", "purged"])
        .await
        .expect("answers");
    assert_eq!(stopped["result"], true, "{stopped}");
    run_sql(&c.downstream, &["DROP TABLE app.t"])
        .await
        .expect("dropped");
    let started = dmctl(&addrs, &["start-task", "--remove-meta", &file])
        .await
        .expect("answers");
    assert_eq!(started["result"], true, "{started}");
    wait_equal(&c).await;
    wait_syncing(&addrs, "purged", DEADLINE)
        .await
        .expect("replicating again");
    run_sql(&c.upstream, &["INSERT INTO app.t VALUES (5, 5)"])
        .await
        .expect("a new row");
    wait_equal(&c).await;
    assert_eq!(
        rows(&c.downstream).await,
        [(1, 1), (2, 20), (3, 3), (4, 4), (5, 5)]
    );
}
