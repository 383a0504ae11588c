//! The crash test of the sync: under a steady upstream write load, the
//! worker replicating the source is SIGKILLed three times and the master
//! leader twice. At the end the downstream equals the upstream, and no
//! change was applied twice: triggers on the downstream table record every
//! applied row change with the row's version, and none appears twice.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_tests::cluster::{create_source, dmctl, subtasks_of, wait_bound, Masters, Workers};
use dm_tests::{wait_until, Check, MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: crash\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n    do-tables:\n      - db-name: \"app\"\n        tbl-name: \"t\"\n";

const TABLE: &str = "CREATE TABLE app.t (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NOT NULL)";

type Rows = Vec<(u32, i32, String)>;

async fn rows(server: &MariaDb) -> Rows {
    let mut conn = server.conn().await.expect("conn");
    conn.query("SELECT id, v, note FROM app.t ORDER BY id")
        .await
        .unwrap_or_default()
}

/// Transactions until `stop`: insert a row (version 0), bump the version
/// of an older one, sometimes delete one.
async fn write_load(server: MariaDb, stop: Arc<AtomicBool>, done: Arc<AtomicU32>) -> MariaDb {
    let mut conn = server.conn().await.expect("conn");
    let mut i: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .expect("begin");
        tx.exec_drop(
            "INSERT INTO app.t (v, note) VALUES (0, ?)",
            (format!("w{i}"),),
        )
        .await
        .expect("insert");
        tx.exec_drop(
            "UPDATE app.t SET v = v + 1 WHERE id = ?",
            (1 + i * 13 % 800,),
        )
        .await
        .expect("update");
        if i.is_multiple_of(7) {
            tx.exec_drop("DELETE FROM app.t WHERE id = ?", (800 + i / 7,))
                .await
                .expect("delete");
        }
        tx.commit().await.expect("commit");
        done.store(i, Ordering::Relaxed);
    }
    drop(conn);
    server
}

async fn wait_syncing(addrs: &str) {
    wait_until(
        "syncing",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let answer = dmctl(addrs, &["query-status", "crash"]).await.ok()?;
            let subtasks = subtasks_of(&answer, "crash");
            (!subtasks.is_empty()
                && subtasks
                    .iter()
                    .all(|(_, t)| t["unit"] == "Sync" && t["stage"] == "Running"))
            .then_some(())
        },
    )
    .await
    .expect("sync unit running");
}

/// Waits until the writer committed `more` transactions after now.
async fn more_writes(done: &AtomicU32, more: u32) {
    let target = done.load(Ordering::Relaxed) + more;
    wait_until(
        "more writes",
        DEADLINE,
        Duration::from_millis(10),
        || async move { (done.load(Ordering::Relaxed) >= target).then_some(()) },
    )
    .await
    .expect("writes go on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_and_leader_kills_under_load_lose_and_duplicate_nothing() {
    let mut servers = MariaDb::start_many(2, |i| MariaDbOptions::new(i as u32 + 1))
        .await
        .expect("servers");
    let downstream = servers.pop().expect("downstream");
    let upstream = servers.pop().expect("upstream");
    dm_tests::tutorial::run_sql(
        &upstream,
        &[
            "CREATE DATABASE app",
            TABLE,
            "INSERT INTO app.t (v, note) SELECT 0, CONCAT('seed ', seq) FROM app.seq_1_to_1000",
        ],
    )
    .await
    .expect("upstream");
    // The downstream table exists already, with triggers that record
    // every row change applied to it.
    dm_tests::tutorial::run_sql(
        &downstream,
        &[
            "CREATE DATABASE app",
            TABLE,
            "CREATE TABLE app.applied (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id INT UNSIGNED, v INT, op CHAR(1))",
            "CREATE TRIGGER app.t_i AFTER INSERT ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (NEW.id, NEW.v, 'I')",
            "CREATE TRIGGER app.t_u AFTER UPDATE ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (NEW.id, NEW.v, 'U')",
            "CREATE TRIGGER app.t_d AFTER DELETE ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (OLD.id, OLD.v, 'D')",
        ],
    )
    .await
    .expect("downstream");

    let mut masters = Masters::start(3).expect("masters");
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
    wait_bound(&addrs, "mysql1", None, Duration::from_secs(20))
        .await
        .expect("bound");
    let file = dir.path().join("crash.yaml");
    std::fs::write(&file, TASK.replace("PORT", &downstream.port().to_string())).expect("task");
    let started = dmctl(&addrs, &["start-task", &file.display().to_string()])
        .await
        .expect("answer");
    assert_eq!(started["result"], true, "{started}");
    wait_syncing(&addrs).await;

    // The load starts once the copy is done (so no change falls in the
    // copy's replay window: every change must be applied exactly once).
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU32::new(0));
    let writer = tokio::spawn(write_load(upstream, stop.clone(), done.clone()));
    more_writes(&done, 50).await;

    let mut faults = Vec::new();
    for round in 0..5 {
        if round % 2 == 0 {
            let bound = wait_bound(&addrs, "mysql1", None, Duration::from_secs(20))
                .await
                .expect("bound");
            let index = workers.index_of(&bound).expect("index");
            workers.kill(index).expect("kill worker");
            wait_bound(&addrs, "mysql1", Some(&bound), Duration::from_secs(20))
                .await
                .expect("moved");
            workers.spawn(index).expect("restart worker");
            faults.push(format!("SIGKILL worker {bound}"));
        } else {
            let leader = masters
                .leader(Duration::from_secs(20))
                .await
                .expect("leader");
            let index = masters.index_of(&leader).expect("index");
            masters.kill(index).expect("kill leader");
            let next = masters
                .leader(Duration::from_secs(20))
                .await
                .expect("new leader");
            masters.spawn(index).expect("restart master");
            faults.push(format!("SIGKILL leader {leader} (then {next})"));
        }
        wait_syncing(&addrs).await;
        more_writes(&done, 50).await;
    }
    stop.store(true, Ordering::Relaxed);
    let upstream = writer.await.expect("writer");
    let transactions = done.load(Ordering::Relaxed);

    let expected = rows(&upstream).await;
    wait_until(
        "downstream equals upstream",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let expected = &expected;
            let downstream = &downstream;
            let addrs = addrs.clone();
            async move {
                let got = rows(downstream).await;
                if &got == expected {
                    return Check::Ready(());
                }
                let status = dmctl(&addrs, &["query-status", "crash"]).await.ok();
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
    .expect("downstream equals upstream");

    let mut conn = downstream.conn().await.expect("conn");
    let twice: Vec<(u32, i32, String, u64)> = conn
        .query("SELECT id, v, op, COUNT(*) FROM app.applied GROUP BY id, v, op HAVING COUNT(*) > 1")
        .await
        .expect("audit");
    let applied: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM app.applied")
        .await
        .expect("count");
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    assert!(transactions >= 300, "{transactions} transactions");
    eprintln!(
        "{transactions} upstream transactions, {} row changes applied once each, faults: {faults:?}",
        applied.unwrap_or(0)
    );
}
