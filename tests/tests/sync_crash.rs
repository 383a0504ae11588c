//! The crash test of the sync: under a steady upstream write load, the
//! worker replicating the source is SIGKILLed three times and the master
//! leader twice. At the end the downstream equals the upstream, and no
//! change was applied twice: triggers on the downstream table record every
//! applied row change with the row's version, and none appears twice.

use std::time::Duration;

use dm_tests::cluster::{wait_bound, wait_syncing};
use dm_tests::scenario::{OneSource, WriteLoad, LOAD_TABLE};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: crash\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n    do-tables:\n      - db-name: \"app\"\n        tbl-name: \"t\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_and_leader_kills_under_load_lose_and_duplicate_nothing() {
    let mut c = OneSource::start(
        2,
        &[
            "CREATE DATABASE app",
            LOAD_TABLE,
            "INSERT INTO app.t (v, note) SELECT 0, CONCAT('seed ', seq) FROM app.seq_1_to_1000",
        ],
    )
    .await
    .expect("cluster");
    // The downstream table exists already, with triggers that record
    // every row change applied to it.
    dm_tests::tutorial::run_sql(
        &c.downstream,
        &[
            "CREATE DATABASE app",
            LOAD_TABLE,
            "CREATE TABLE app.applied (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id INT UNSIGNED, v INT, op CHAR(1))",
            "CREATE TRIGGER app.t_i AFTER INSERT ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (NEW.id, NEW.v, 'I')",
            "CREATE TRIGGER app.t_u AFTER UPDATE ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (NEW.id, NEW.v, 'U')",
            "CREATE TRIGGER app.t_d AFTER DELETE ON app.t FOR EACH ROW INSERT INTO app.applied (id, v, op) VALUES (OLD.id, OLD.v, 'D')",
        ],
    )
    .await
    .expect("downstream");
    c.start_task("crash", TASK).await.expect("started");
    wait_syncing(&c.addrs, "crash", DEADLINE)
        .await
        .expect("syncing");

    // The load starts once the copy is done (so no change falls in the
    // copy's replay window: every change must be applied exactly once).
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(50, DEADLINE).await.expect("writes");
    let mut faults = Vec::new();
    for round in 0..5 {
        if round % 2 == 0 {
            let bound = wait_bound(&c.addrs, "mysql1", None, Duration::from_secs(20))
                .await
                .expect("bound");
            let index = c.workers.index_of(&bound).expect("index");
            c.workers.kill(index).expect("kill worker");
            wait_bound(&c.addrs, "mysql1", Some(&bound), Duration::from_secs(20))
                .await
                .expect("moved");
            c.workers.spawn(index).expect("restart worker");
            faults.push(format!("SIGKILL worker {bound}"));
        } else {
            let leader = c
                .masters
                .leader(Duration::from_secs(20))
                .await
                .expect("leader");
            let index = c.masters.index_of(&leader).expect("index");
            c.masters.kill(index).expect("kill leader");
            let next = c
                .masters
                .leader(Duration::from_secs(20))
                .await
                .expect("new leader");
            c.masters.spawn(index).expect("restart master");
            faults.push(format!("SIGKILL leader {leader} (then {next})"));
        }
        wait_syncing(&c.addrs, "crash", DEADLINE)
            .await
            .expect("syncing again");
        load.more(50, DEADLINE).await.expect("writes go on");
    }
    let transactions = load.stop().await.expect("writer");

    c.wait_load_in_sync("crash", DEADLINE)
        .await
        .expect("downstream equals upstream, no error");

    let mut conn = c.downstream.conn().await.expect("conn");
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
