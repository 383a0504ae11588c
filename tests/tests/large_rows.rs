//! Rows near the downstream's `max_allowed_packet`: statements are sized
//! by the downstream's own limit, so a small row followed by one that
//! nearly fills a packet arrives (in the copy and in the sync) as two
//! statements; a row that can never fit pauses the subtask with an error
//! naming its table and key.
//!
//! The BLOBs are zero bytes (after a marker): however a binary value is
//! written in SQL (hex, or an escaped string), each byte takes two
//! characters, so the statement sizes below hold for either.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::OneSource;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(120);

/// One apply lane, so the rows of a transaction share its batch.
const TASK: &str = "name: big\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    syncer-config-name: \"one-lane\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\nsyncers:\n  one-lane:\n    worker-count: 1\n";

/// The downstream's `max_allowed_packet`: 25 MiB.
const DOWNSTREAM_PACKET: &str = "--max-allowed-packet=25M";
const PACKET_BYTES: usize = 25 << 20;

/// A row whose statement stays under the 1 MB a batch grows to before it
/// is cut (so a next row joins its statement).
const SMALL_BYTES: usize = 480_000;
/// A row whose statement alone fits the downstream's packet (with room to
/// spare), but not together with a small row's.
const NEAR_BYTES: usize = 12 * 1024 * 1024 + 256 * 1024;
/// What the worker leaves of the packet for the protocol.
const HEADROOM_BYTES: usize = 16 * 1024;
// Written as SQL (2 characters a byte), the near row fits a packet alone,
// but not with a small row.
const _: () = assert!(
    2 * NEAR_BYTES + HEADROOM_BYTES < PACKET_BYTES && 2 * (SMALL_BYTES + NEAR_BYTES) > PACKET_BYTES
);

/// A row no statement can carry.
const HUGE_BYTES: usize = 13 * 1024 * 1024;

/// `INSERT` of a row `id` with a BLOB of `bytes` bytes.
fn insert(id: u32, bytes: usize) -> String {
    let marker = format!("row {id}:");
    format!(
        "INSERT INTO app.big VALUES ({id}, CONCAT('{marker}', REPEAT(CHAR(0), {})))",
        bytes - marker.len()
    )
}

/// (id, length, sha2 of the BLOB) of every row.
async fn digests(server: &MariaDb) -> Vec<(u32, u64, String)> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query("SELECT id, LENGTH(b), SHA2(b, 256) FROM app.big ORDER BY id")
        .await
        .unwrap_or_default()
}

async fn wait_equal(c: &OneSource, rows: usize) {
    wait_until(
        "app.big equal downstream",
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let want = digests(&c.upstream).await;
            let got = digests(&c.downstream).await;
            if want == got && want.len() == rows {
                return Check::Ready(());
            }
            let status = dmctl(&c.addrs, &["query-status", "big"]).await.ok();
            Check::Pending(format!(
                "upstream {want:?}\ndownstream {got:?}\nstatus {}",
                status.map(|s| s.to_string()).unwrap_or_default()
            ))
        },
    )
    .await
    .expect("equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_near_max_allowed_packet_arrive_and_a_row_too_large_pauses() {
    let c = OneSource::start_with(
        1,
        &["--max-allowed-packet=64M"],
        &[DOWNSTREAM_PACKET],
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.big (id INT PRIMARY KEY, b LONGBLOB NOT NULL)",
            &insert(1, SMALL_BYTES),
            &insert(2, NEAR_BYTES),
            &insert(3, SMALL_BYTES),
        ],
    )
    .await
    .expect("cluster");

    // The copy: rows 1 and 2 are one chunk, read in one go.
    c.start_task("big", TASK).await.expect("started");
    wait_syncing(&c.addrs, "big", DEADLINE)
        .await
        .expect("sync unit");
    wait_equal(&c, 3).await;

    // The sync: both rows in one upstream transaction.
    let small = insert(11, SMALL_BYTES);
    let near = insert(12, NEAR_BYTES);
    dm_tests::tutorial::run_sql(&c.upstream, &["BEGIN", &small, &near, "COMMIT"])
        .await
        .expect("rows near the limit");
    wait_equal(&c, 5).await;

    // A row that cannot fit pauses the subtask, naming it.
    dm_tests::tutorial::run_sql(&c.upstream, &[&insert(20, HUGE_BYTES)])
        .await
        .expect("huge row");
    let addrs = c.addrs.as_str();
    let message = wait_until(
        "the subtask pauses on the huge row",
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let status = dmctl(addrs, &["query-status", "big"]).await.ok()?;
            let subtasks = subtasks_of(&status, "big");
            let (_, subtask) = subtasks.first()?;
            if subtask["stage"] != "Paused" {
                return None;
            }
            subtask["result"]["errors"][0]["Message"]
                .as_str()
                .map(str::to_string)
        },
    )
    .await
    .expect("paused");
    let (head, rest) = message
        .split_once("-byte statement")
        .unwrap_or_else(|| panic!("{message}"));
    let bytes: usize = head
        .strip_prefix("a row of `app`.`big` with key `id` = 20 needs a ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(bytes > HUGE_BYTES, "{message}");
    assert_eq!(
        rest,
        format!(
            ", more than the {} bytes the downstream accepts (its max_allowed_packet less \
             headroom): raise max_allowed_packet on the downstream, then resume the task",
            PACKET_BYTES - HEADROOM_BYTES
        ),
        "{message}"
    );
    // Nothing of it arrived, and the rows before it stay.
    assert_eq!(digests(&c.downstream).await.len(), 5);
}
