//! One upstream transaction too big to hold in memory is applied in pieces
//! inside one downstream transaction, exactly once: row for row after it,
//! and a worker killed while it writes the pieces leaves none of them
//! behind (the new worker applies the whole transaction once). The
//! memory bound itself is measured by `bench big-txn`.

use std::time::Duration;

use dm_tests::cluster::{wait_bound, wait_syncing};
use dm_tests::scenario::OneSource;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(180);

/// Rows of the table: enough that one transaction updating them all takes
/// more than the lane's memory bound.
const ROWS: u32 = 60_000;

const TASK: &str = "name: bigtx\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// Count, sum of versions and a checksum of `app.b`.
async fn fingerprint(server: &MariaDb) -> Option<(u64, i64, u64)> {
    let mut conn = server.conn().await.ok()?;
    let row: Option<(u64, Option<i64>, Option<u64>)> = conn
        .query_first("SELECT COUNT(*), SUM(v), SUM(CRC32(CONCAT_WS('|', id, v, pad))) FROM app.b")
        .await
        .ok()?;
    row.map(|(n, v, c)| (n, v.unwrap_or(0), c.unwrap_or(0)))
}

async fn wait_same(c: &OneSource, what: &str) {
    let want = fingerprint(&c.upstream).await.expect("upstream");
    wait_until(what, DEADLINE, Duration::from_millis(100), || async move {
        match fingerprint(&c.downstream).await {
            Some(got) if got == want => Check::Ready(()),
            got => Check::Pending(format!("downstream {got:?}, upstream {want:?}")),
        }
    })
    .await
    .expect("same table");
}

/// How many times the worker logs that it applies a transaction in pieces.
fn pieces_logged(c: &OneSource) -> usize {
    std::fs::read_to_string(c.workers.log_path(0))
        .unwrap_or_default()
        .matches("applying it in pieces")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_too_big_to_hold_is_applied_whole_once_even_across_a_crash() {
    let mut c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.b (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, pad VARCHAR(300) NOT NULL)",
            &format!("INSERT INTO app.b SELECT seq, 0, REPEAT('p', 300) FROM app.seq_1_to_{ROWS}"),
        ],
    )
    .await
    .expect("cluster");
    c.start_task("bigtx", TASK).await.expect("started");
    wait_syncing(&c.addrs, "bigtx", DEADLINE)
        .await
        .expect("syncing");
    wait_same(&c, "the copy").await;

    let mut conn = c.upstream.conn().await.expect("conn");
    conn.query_drop("UPDATE app.b SET v = v + 1")
        .await
        .expect("big update");
    wait_same(&c, "the big transaction applied").await;
    // At least once: a worker that lost its lease midway (a loaded
    // machine) applies it again from the start, which is the point.
    let first = pieces_logged(&c);
    assert!(first >= 1, "the transaction went in pieces");

    // Again, and the worker dies while it writes the pieces: none of them
    // may stay, and the next worker applies the whole transaction once
    // (every `v` ends at 2, none at 3).
    conn.query_drop("UPDATE app.b SET v = v + 1")
        .await
        .expect("big update");
    wait_until(
        "the worker writes the second transaction in pieces",
        DEADLINE,
        Duration::from_millis(20),
        || async { (pieces_logged(&c) > first).then_some(()) },
    )
    .await
    .expect("in pieces");
    c.workers.kill(0).expect("kill the worker");
    {
        let mut down = c.downstream.conn().await.expect("conn");
        let partial: Option<u64> = down
            .query_first("SELECT COUNT(*) FROM app.b WHERE v = 2")
            .await
            .expect("count");
        assert_eq!(
            partial,
            Some(0),
            "no piece of the killed transaction landed"
        );
    }
    c.workers.spawn(0).expect("restart the worker");
    wait_bound(&c.addrs, "mysql1", None, Duration::from_secs(30))
        .await
        .expect("bound");
    wait_same(&c, "the big transaction applied after the crash").await;
    let mut down = c.downstream.conn().await.expect("conn");
    let versions: Vec<(i32, u64)> = down
        .query("SELECT v, COUNT(*) FROM app.b GROUP BY v")
        .await
        .expect("versions");
    assert_eq!(versions, vec![(2, u64::from(ROWS))], "applied exactly once");
}
