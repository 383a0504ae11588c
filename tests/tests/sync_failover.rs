//! Exactly once across a worker's death: the worker replicating a source
//! under write load is SIGKILLed; the other worker resumes from the
//! committed checkpoint. Nothing is lost, and nothing is applied twice (a
//! replayed insert would fail on its key and pause the subtask).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_tests::cluster::{create_source, dmctl, subtasks_of, wait_bound, Masters, Workers};
use dm_tests::{wait_until, Check, MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: load\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

type Rows = Vec<(u32, u32, String)>;

async fn rows(server: &MariaDb) -> Rows {
    let mut conn = server.conn().await.expect("conn");
    conn.query("SELECT id, n, note FROM app.t ORDER BY id")
        .await
        .unwrap_or_default()
}

/// Small transactions until `stop`: an insert, an update of an older row,
/// and now and then a delete. Returns how many transactions committed.
async fn write_load(
    server: MariaDb,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU32>,
) -> (MariaDb, u32) {
    let mut conn = server.conn().await.expect("conn");
    let mut i: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .expect("begin");
        tx.exec_drop(
            "INSERT INTO app.t (n, note) VALUES (0, ?)",
            (format!("row {i}"),),
        )
        .await
        .expect("insert");
        tx.exec_drop(
            "UPDATE app.t SET n = n + 1 WHERE id = ?",
            (1 + i * 7 % 500,),
        )
        .await
        .expect("update");
        if i.is_multiple_of(10) {
            tx.exec_drop("DELETE FROM app.t WHERE id = ?", (i / 2,))
                .await
                .expect("delete");
        }
        tx.commit().await.expect("commit");
        done.store(i, Ordering::Relaxed);
    }
    drop(conn);
    (server, i)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_syncing_worker_loses_and_duplicates_nothing() {
    let mut servers = MariaDb::start_many(2, |i| MariaDbOptions::new(i as u32 + 1))
        .await
        .expect("servers");
    let downstream = servers.pop().expect("downstream");
    let upstream = servers.pop().expect("upstream");
    dm_tests::tutorial::run_sql(
        &upstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, note VARCHAR(40) NOT NULL)",
            "INSERT INTO app.t (n, note) SELECT 0, CONCAT('seed ', seq) FROM app.seq_1_to_1000",
        ],
    )
    .await
    .expect("schema");
    let masters = Masters::start(3).expect("masters");
    let addrs = masters.client_addrs();
    masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "mysql1", upstream.port())
        .await
        .expect("source");
    let mut workers = Workers::start(2, &addrs, 2).expect("workers");
    let first = wait_bound(&addrs, "mysql1", None, Duration::from_secs(20))
        .await
        .expect("bound");
    let file = dir.path().join("load.yaml");
    std::fs::write(&file, TASK.replace("PORT", &downstream.port().to_string())).expect("task");
    let started = dmctl(&addrs, &["start-task", &file.display().to_string()])
        .await
        .expect("answer");
    assert_eq!(started["result"], true, "{started}");

    // Writes run from before the copy ends until well after the failover.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU32::new(0));
    let writer = tokio::spawn(write_load(upstream, stop.clone(), done.clone()));
    let syncing = |addrs: String| async move {
        let answer = dmctl(&addrs, &["query-status", "load"]).await.ok()?;
        subtasks_of(&answer, "load")
            .iter()
            .all(|(_, t)| t["unit"] == "Sync" && t["stage"] == "Running")
            .then_some(())
    };
    wait_until("syncing", DEADLINE, Duration::from_millis(50), || {
        syncing(addrs.clone())
    })
    .await
    .expect("sync unit");
    wait_until(
        "changes applied",
        DEADLINE,
        Duration::from_millis(20),
        || async { (rows(&downstream).await.len() > 1100).then_some(()) },
    )
    .await
    .expect("replicating");
    workers
        .kill(workers.index_of(&first).expect("index"))
        .expect("kill");
    wait_bound(&addrs, "mysql1", Some(&first), Duration::from_secs(20))
        .await
        .expect("moved");
    wait_until("syncing again", DEADLINE, Duration::from_millis(50), || {
        syncing(addrs.clone())
    })
    .await
    .expect("sync unit on the new worker");
    let after_failover = done.load(Ordering::Relaxed) + 100;
    wait_until(
        "more writes after the failover",
        DEADLINE,
        Duration::from_millis(20),
        || async { (done.load(Ordering::Relaxed) >= after_failover).then_some(()) },
    )
    .await
    .expect("writes");
    stop.store(true, Ordering::Relaxed);
    let (upstream, transactions) = writer.await.expect("writer");
    assert!(transactions > 50, "only {transactions} transactions");

    let expected = rows(&upstream).await;
    wait_until(
        "downstream equals upstream",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let expected = &expected;
            let addrs = addrs.clone();
            let downstream = &downstream;
            async move {
                let got = rows(downstream).await;
                if &got == expected {
                    return Check::Ready(());
                }
                let status = dmctl(&addrs, &["query-status", "load"]).await.ok();
                Check::Pending(format!(
                    "{} rows downstream, {} upstream; {}",
                    got.len(),
                    expected.len(),
                    status.map(|s| s.to_string()).unwrap_or_default()
                ))
            }
        },
    )
    .await
    .expect("equal");
    let status = dmctl(&addrs, &["query-status", "load"])
        .await
        .expect("status");
    for (_, subtask) in subtasks_of(&status, "load") {
        assert_eq!(subtask["stage"], "Running", "{subtask}");
        assert!(subtask["result"].is_null(), "{subtask}");
    }
}
