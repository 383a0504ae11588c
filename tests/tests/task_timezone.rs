//! The task's `timezone` is the time zone of its downstream sessions (DM's
//! `dt = ts` check), over real processes: a downstream table with extra
//! `dt DATETIME DEFAULT CURRENT_TIMESTAMP` and `ts TIMESTAMP DEFAULT
//! CURRENT_TIMESTAMP` columns, filled by the copy and by the sync with the
//! upstream's other columns, has `dt = ts` when read in the task's zone;
//! TIMESTAMP values copied and synced stay the same instants.

use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: zoned\ntask-mode: all\ntimezone: \"+04:00\"\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// `SELECT count(*) ...` of `sql`, in the session time zone `zone`.
async fn count(server: &MariaDb, zone: &str, sql: &str) -> u64 {
    let Ok(mut conn) = server.conn().await else {
        return 0;
    };
    if conn
        .query_drop(format!("SET time_zone = '{zone}'"))
        .await
        .is_err()
    {
        return 0;
    }
    conn.query_first(sql).await.ok().flatten().unwrap_or(0)
}

/// `(id, epoch seconds of ts, dt)` of `app.stamps`, read in UTC.
async fn stamps(server: &MariaDb) -> Vec<(u32, Option<String>, Option<String>)> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query(
        "SELECT id, CAST(UNIX_TIMESTAMP(ts) AS CHAR), CAST(dt AS CHAR) FROM app.stamps ORDER BY id",
    )
    .await
    .unwrap_or_default()
}

async fn wait_rows(c: &OneSource, rows: u64) {
    let (downstream, addrs) = (&c.downstream, c.addrs.as_str());
    wait_until(
        &format!("{rows} rows in app.no_diff downstream"),
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let got = count(downstream, "+00:00", "SELECT COUNT(*) FROM app.no_diff").await;
            if got == rows {
                return Check::Ready(());
            }
            let status = dmctl(addrs, &["query-status", "zoned"]).await.ok();
            Check::Pending(format!(
                "{got} rows; {}",
                status.map(|s| s.to_string()).unwrap_or_default()
            ))
        },
    )
    .await
    .expect("rows arrive");
}

async fn wait_stamps_equal(c: &OneSource, rows: usize) {
    let (upstream, downstream) = (&c.upstream, &c.downstream);
    wait_until(
        "app.stamps equal downstream",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let want = stamps(upstream).await;
            let got = stamps(downstream).await;
            if want == got && want.len() == rows {
                Check::Ready(())
            } else {
                Check::Pending(format!("upstream {want:?}, downstream {got:?}"))
            }
        },
    )
    .await
    .expect("stamps equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn datetime_defaults_follow_the_tasks_timezone_and_timestamps_stay_exact() {
    let c = OneSource::start(
        1,
        &[
            "SET time_zone = '+00:00'",
            "CREATE DATABASE app",
            "CREATE TABLE app.no_diff (id INT NOT NULL PRIMARY KEY)",
            "INSERT INTO app.no_diff (id) VALUES (1), (2), (3)",
            "CREATE TABLE app.stamps (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL DEFAULT NULL, dt DATETIME(6))",
            "INSERT INTO app.stamps VALUES (1, '2024-03-31 01:30:00.250000', '2024-03-31 01:30:00.250000'), \
             (2, '1970-01-01 00:00:01', '1970-01-01 00:00:01'), (3, '2038-01-19 03:14:07.999999', NULL)",
        ],
    )
    .await
    .expect("cluster");
    // The downstream table has two columns the upstream lacks, filled by
    // their defaults.
    run_sql(
        &c.downstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.no_diff (id INT NOT NULL PRIMARY KEY, \
             dt DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        ],
    )
    .await
    .expect("downstream table");
    c.start_task("zoned", TASK).await.expect("started");
    wait_syncing(&c.addrs, "zoned", DEADLINE)
        .await
        .expect("sync unit");

    // Copied rows.
    wait_rows(&c, 3).await;
    let same = "SELECT COUNT(*) FROM app.no_diff WHERE dt = ts";
    assert_eq!(count(&c.downstream, "+04:00", same).await, 3);
    wait_stamps_equal(&c, 3).await;

    // Synced rows.
    run_sql(
        &c.upstream,
        &[
            "SET time_zone = '+00:00'",
            "INSERT INTO app.no_diff (id) VALUES (5)",
            "INSERT INTO app.stamps VALUES (4, '2001-04-15 01:30:12.5', '2001-04-15 01:30:12.5'), (5, NULL, NULL)",
            "UPDATE app.stamps SET ts = '2020-02-29 23:59:59' WHERE id = 2",
        ],
    )
    .await
    .expect("upstream writes");
    wait_rows(&c, 4).await;
    assert_eq!(count(&c.downstream, "+04:00", same).await, 4);
    wait_stamps_equal(&c, 5).await;
}
