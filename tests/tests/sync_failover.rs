//! Exactly once across a worker's death: the worker replicating a source
//! under write load is SIGKILLed; the other worker resumes from the
//! committed checkpoints. Nothing is lost, and nothing is applied twice (a
//! replayed insert would fail on its key and pause the subtask).

use std::time::Duration;

use dm_tests::cluster::{wait_bound, wait_syncing};
use dm_tests::scenario::{load_rows, OneSource, WriteLoad, LOAD_TABLE};
use dm_tests::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: load\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_syncing_worker_loses_and_duplicates_nothing() {
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
    c.start_task("load", TASK).await.expect("started");

    // Writes run from before the copy ends until well after the failover.
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    wait_syncing(&c.addrs, "load", DEADLINE)
        .await
        .expect("sync unit");
    wait_until(
        "changes applied",
        DEADLINE,
        Duration::from_millis(20),
        || async { (load_rows(&c.downstream).await.len() > 1100).then_some(()) },
    )
    .await
    .expect("replicating");
    let index = c.workers.index_of(&c.bound).expect("index");
    c.workers.kill(index).expect("kill");
    wait_bound(&c.addrs, "mysql1", Some(&c.bound), Duration::from_secs(20))
        .await
        .expect("moved");
    wait_syncing(&c.addrs, "load", DEADLINE)
        .await
        .expect("sync unit on the new worker");
    load.more(100, DEADLINE)
        .await
        .expect("writes after the failover");
    let transactions = load.stop().await.expect("writer");
    assert!(transactions > 50, "only {transactions} transactions");

    c.wait_load_in_sync("load", DEADLINE)
        .await
        .expect("downstream equals upstream, no error");
}
