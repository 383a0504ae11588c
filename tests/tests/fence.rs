//! The epoch fence on a real downstream: once a newer epoch committed, no
//! transaction of an older epoch commits, data and checkpoint alike.

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::downstream::{
    CheckpointKey, Commit, DownstreamError, FencedTx, MySqlDownstream, Position,
};
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
async fn an_older_epoch_never_commits_after_a_newer_one_claimed() {
    let server = downstream_with_table().await;
    let old = MySqlDownstream::new(server.opts());
    let new = MySqlDownstream::new(server.opts());
    let meta = key().meta();
    old.prepare(&meta).await.expect("prepare");
    new.prepare(&meta).await.expect("prepare is idempotent");

    // Writing needs a claim first.
    assert!(matches!(
        old.commit_fenced(&key(), 1, &at(50), &insert(9)).await,
        Err(DownstreamError::NotClaimed { stored: 0, .. })
    ));

    // Epoch 1 claims and writes; then the source moves to epoch 2.
    assert_eq!(
        old.claim(&meta, "mysql1", 1).await.expect("claim"),
        Commit::Committed
    );
    assert_eq!(
        old.commit_fenced(&key(), 1, &at(100), &insert(1))
            .await
            .expect("commit"),
        Commit::Committed
    );
    assert_eq!(
        new.claim(&meta, "mysql1", 2).await.expect("claim"),
        Commit::Committed
    );
    assert_eq!(
        new.commit_fenced(&key(), 2, &at(200), &insert(2))
            .await
            .expect("commit"),
        Commit::Committed
    );

    // The old worker wakes up and tries to go on: fenced, nothing applied,
    // and it cannot claim the source back.
    assert_eq!(
        old.commit_fenced(&key(), 1, &at(300), &insert(3))
            .await
            .expect("answer"),
        Commit::Fenced { by_epoch: 2 }
    );
    assert_eq!(
        old.claim(&meta, "mysql1", 1).await.expect("answer"),
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

/// The case of a worker paused (SIGSTOP) in the middle of a transaction:
/// it holds the fence row and its rows locked and will never finish. The
/// new owner's claim kills that transaction (it rolls back) and goes on;
/// the old transaction can never commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_kills_a_stale_open_transaction_of_the_old_epoch() {
    let server = downstream_with_table().await;
    let meta = key().meta();
    let old = MySqlDownstream::new(server.opts());
    old.prepare(&meta).await.expect("prepare");
    assert_eq!(
        old.claim(&meta, "mysql1", 1).await.expect("claim"),
        Commit::Committed
    );
    let FencedTx::Open(mut stale) = old.begin_fenced(&meta, "mysql1", 1).await.expect("begin")
    else {
        panic!("epoch 1 owns the source");
    };
    stale
        .query_drop("INSERT INTO app.t (id) VALUES (7)")
        .await
        .expect("insert in the stale transaction");

    let new = MySqlDownstream::new(server.opts());
    assert_eq!(
        new.claim(&meta, "mysql1", 2).await.expect("claim"),
        Commit::Committed
    );
    assert!(
        stale.commit().await.is_err(),
        "the stale transaction was killed"
    );
    assert_eq!(
        new.commit_fenced(&key(), 2, &at(200), &insert(2))
            .await
            .expect("commit"),
        Commit::Committed
    );
    assert_eq!(ids(&server).await, [2]);
}
