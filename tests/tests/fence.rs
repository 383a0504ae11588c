//! The epoch fence on a real downstream: once a newer epoch committed, no
//! transaction of an older epoch commits, data and checkpoint alike.

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::downstream::{CheckpointKey, Commit, MySqlDownstream, Position};
use mysql_async::prelude::Queryable;

fn key() -> CheckpointKey {
    CheckpointKey {
        meta_schema: "dm_meta".into(),
        task: "task1".into(),
        source: "mysql1".into(),
        lane: 0,
    }
}

fn at(pos: u32) -> Position {
    Position {
        binlog_name: "mysql-bin.000001".into(),
        binlog_pos: pos,
        binlog_gtid: String::new(),
    }
}

fn insert(id: u32) -> Vec<String> {
    vec![format!("INSERT INTO app.t (id) VALUES ({id})")]
}

/// A downstream server with an `app.t` table to write into.
async fn downstream_with_table() -> MariaDb {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("downstream");
    dm_tests::tutorial::run_sql(
        &server,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
        ],
    )
    .await
    .expect("schema");
    server
}

async fn ids(server: &MariaDb) -> Vec<u32> {
    let mut conn = server.conn().await.expect("conn");
    conn.query("SELECT id FROM app.t ORDER BY id")
        .await
        .expect("select")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_epoch_never_commits_after_a_newer_one() {
    let server = downstream_with_table().await;
    let old = MySqlDownstream::new(server.opts());
    let new = MySqlDownstream::new(server.opts());
    old.prepare(&key()).await.expect("prepare");
    new.prepare(&key()).await.expect("prepare is idempotent");

    // Epoch 1 writes; then the source moves to epoch 2, which writes.
    assert_eq!(
        old.commit_fenced(&key(), 1, &at(100), &insert(1))
            .await
            .expect("commit"),
        Commit::Committed
    );
    assert_eq!(
        new.commit_fenced(&key(), 2, &at(200), &insert(2))
            .await
            .expect("commit"),
        Commit::Committed
    );

    // The old worker wakes up and tries to go on: fenced, nothing applied.
    assert_eq!(
        old.commit_fenced(&key(), 1, &at(300), &insert(3))
            .await
            .expect("answer"),
        Commit::Fenced { by_epoch: 2 }
    );
    assert_eq!(ids(&server).await, [1, 2]);
    let checkpoint = new.checkpoint(&key()).await.expect("read").expect("stored");
    assert_eq!((checkpoint.epoch, checkpoint.position), (2, at(200)));

    // The same epoch goes on committing.
    assert_eq!(
        new.commit_fenced(&key(), 2, &at(400), &insert(4))
            .await
            .expect("commit"),
        Commit::Committed
    );
    assert_eq!(ids(&server).await, [1, 2, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_lock_orders_a_racing_old_and_new_epoch() {
    let server = downstream_with_table().await;
    let downstream = MySqlDownstream::new(server.opts());
    downstream.prepare(&key()).await.expect("prepare");
    downstream
        .commit_fenced(&key(), 1, &at(100), &insert(1))
        .await
        .expect("commit");

    // The new epoch holds the checkpoint row locked (a transaction in
    // flight) while the old one tries to commit: the old one waits, then
    // sees the new epoch and rolls back.
    let mut holder = server.conn().await.expect("conn");
    holder.query_drop("START TRANSACTION").await.expect("begin");
    holder
        .query_drop(
            "SELECT epoch FROM dm_meta.task1_checkpoint WHERE source_id = 'mysql1' FOR UPDATE",
        )
        .await
        .expect("lock");
    let old = {
        let downstream = downstream.clone();
        tokio::spawn(async move {
            downstream
                .commit_fenced(&key(), 1, &at(150), &insert(5))
                .await
        })
    };
    // Wait until the old transaction is really blocked on the row lock
    // (one watcher connection, polled).
    let watcher = tokio::sync::Mutex::new(server.conn().await.expect("conn"));
    dm_tests::wait_until(
        "the old epoch's transaction waits on the checkpoint row",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(10),
        || {
            let watcher = &watcher;
            async move {
                let mut conn = watcher.lock().await;
                let waiting: Option<u64> = conn
                    .query_first(
                        "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
                    )
                    .await
                    .ok()?;
                (waiting == Some(1)).then_some(())
            }
        },
    )
    .await
    .expect("lock wait");
    holder
        .query_drop("INSERT INTO app.t (id) VALUES (2)")
        .await
        .expect("new data");
    holder
        .query_drop("UPDATE dm_meta.task1_checkpoint SET epoch = 2, binlog_pos = 200 WHERE source_id = 'mysql1'")
        .await
        .expect("new checkpoint");
    holder.query_drop("COMMIT").await.expect("commit");

    let outcome = old.await.expect("task").expect("answer");
    assert_eq!(outcome, Commit::Fenced { by_epoch: 2 });
    assert_eq!(ids(&server).await, [1, 2]);
}
