//! A sharding group within one source: `app.t_1` and `app.t_2` of source
//! `mysql1` merged into `app.t` (`is-sharding: true`), written to
//! throughout. `t_1` reaches `ALTER TABLE ... ADD COLUMN` first: its later
//! rows (which have the new column) are held while `t_2`'s rows keep
//! flowing and the column does not exist downstream yet; the worker is
//! SIGKILLed while the window is open, its successor keeps holding; when
//! `t_2` reaches the same DDL, the column is added once and the held rows
//! arrive with their values. Downstream equals the merged tables row for
//! row; the window is closed in `dm_meta`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_tests::cluster::{bound_worker, dmctl, wait_bound, wait_syncing, wait_task_stage};
use dm_tests::scenario::OneSource;
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK_NAME: &str = "merge";
const TASK: &str = "name: merge\ntask-mode: all\nis-sharding: true\nignore-checking-items: [\"auto_increment_ID\"]\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    route-rules: [\"merge-t\"]\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\nroutes:\n  merge-t:\n    schema-pattern: \"app\"\n    table-pattern: \"t_*\"\n    target-schema: \"app\"\n    target-table: \"t\"\n";

/// `t_1` ids start at 1, `t_2` ids at 1,000,000: the merge has no clashes.
const SETUP: &[&str] = &[
    "CREATE DATABASE app",
    "CREATE TABLE app.t_1 (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, c VARCHAR(40) NOT NULL)",
    "CREATE TABLE app.t_2 (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, c VARCHAR(40) NOT NULL) AUTO_INCREMENT = 1000000",
    "INSERT INTO app.t_1 (c) SELECT CONCAT('seed ', seq) FROM app.seq_1_to_200",
    "INSERT INTO app.t_2 (c) SELECT CONCAT('seed ', seq) FROM app.seq_1_to_200",
];

fn alter(table: &str) -> String {
    format!("ALTER TABLE app.{table} ADD COLUMN extra INT NOT NULL DEFAULT 7")
}

/// Inserts and updates on both tables until stopped (rows whose `c`
/// starts with `keep ` are the test's markers and are not updated).
struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u32>,
}

impl Load {
    async fn start(server: &MariaDb) -> Self {
        let mut conn = server.conn().await.expect("upstream connection");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut n = 0u32;
            while !stopping.load(Ordering::Relaxed) {
                n += 1;
                let table = if n.is_multiple_of(2) { "t_1" } else { "t_2" };
                let insert = conn
                    .query_drop(format!("INSERT INTO app.{table} (c) VALUES (md5(rand()))"))
                    .await;
                let id = conn.last_insert_id().unwrap_or(1);
                let update = conn
                    .exec_drop(
                        format!("UPDATE app.{table} SET c = md5(c) WHERE id = ? AND c NOT LIKE 'keep %'"),
                        (id.saturating_sub(3),),
                    )
                    .await;
                if insert.is_err() || update.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        });
        Self { stop, task }
    }

    async fn stop(self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load task")
    }
}

type Row = (u32, String, Option<i32>);

/// The rows of `query` (id, c, extra), ordered by id.
async fn rows(server: &MariaDb, query: &str) -> Vec<Row> {
    let mut conn = server.conn().await.expect("connection");
    conn.query(query).await.expect("rows")
}

async fn merged_upstream(server: &MariaDb) -> Vec<Row> {
    rows(
        server,
        "SELECT id, c, extra FROM app.t_1 UNION ALL SELECT id, c, extra FROM app.t_2 ORDER BY id",
    )
    .await
}

async fn has_row(server: &MariaDb, c: &str) -> bool {
    let Ok(mut conn) = server.conn().await else {
        return false;
    };
    let n: Option<u64> = conn
        .exec_first("SELECT COUNT(*) FROM app.t WHERE c = ?", (c,))
        .await
        .unwrap_or(None);
    n == Some(1)
}

async fn has_extra(server: &MariaDb) -> bool {
    let mut conn = server.conn().await.expect("connection");
    let found: Option<String> = conn
        .query_first("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't' AND COLUMN_NAME = 'extra'")
        .await
        .expect("columns");
    found.is_some()
}

async fn wait_row(server: &MariaDb, c: &str) {
    wait_until(
        &format!("row {c} downstream"),
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            if has_row(server, c).await {
                Check::Ready(())
            } else {
                Check::Pending(format!("no row {c}"))
            }
        },
    )
    .await
    .expect("row downstream");
}

async fn run(server: &MariaDb, sql: &str) {
    let mut conn = server.conn().await.expect("connection");
    conn.query_drop(sql).await.expect(sql);
}

async fn start() -> (OneSource, Load) {
    let c = OneSource::start(2, SETUP).await.expect("cluster");
    c.start_task(TASK_NAME, TASK).await.expect("started");
    wait_syncing(&c.addrs, TASK_NAME, DEADLINE)
        .await
        .expect("syncing");
    let load = Load::start(&c.upstream).await;
    (c, load)
}

/// Writes stop; downstream equals the merged tables row for row, the
/// window is closed, the task runs.
async fn finish(c: &OneSource, load: Load) {
    let writes = load.stop().await;
    assert!(writes > 0);
    let expected = merged_upstream(&c.upstream).await;
    let downstream = &c.downstream;
    wait_until(
        "downstream app.t equals the merged shards",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let expected = &expected;
            async move {
                let got = rows(downstream, "SELECT id, c, extra FROM app.t ORDER BY id").await;
                if &got == expected {
                    Check::Ready(())
                } else {
                    Check::Pending(format!(
                        "{} rows downstream, {} upstream",
                        got.len(),
                        expected.len()
                    ))
                }
            }
        },
    )
    .await
    .expect("rows equal");
    let mut conn = c.downstream.conn().await.expect("downstream");
    let open: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM dm_meta.merge_shard_group")
        .await
        .expect("shard group table");
    assert_eq!(open, Some(0), "the window is closed");
    wait_task_stage(&c.addrs, TASK_NAME, "Running", DEADLINE)
        .await
        .expect("running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shard_tables_of_one_source_hold_their_rows_until_all_reach_the_ddl() {
    let (mut c, load) = start().await;

    // t_1 reaches the DDL; its next rows have the new column.
    run(&c.upstream, &alter("t_1")).await;
    run(
        &c.upstream,
        "INSERT INTO app.t_1 (c, extra) VALUES ('keep t1 after', 42)",
    )
    .await;
    run(&c.upstream, "UPDATE app.t_1 SET extra = 43 WHERE id = 5").await;
    run(
        &c.upstream,
        "INSERT INTO app.t_2 (c) VALUES ('keep t2 after')",
    )
    .await;
    // t_2 is not held: its row arrives; t_1's is held, no column yet.
    wait_row(&c.downstream, "keep t2 after").await;
    assert!(
        !has_row(&c.downstream, "keep t1 after").await,
        "t_1's rows are held"
    );
    assert!(!has_extra(&c.downstream).await);
    // query-status shows the open group (reported with heartbeats).
    let addrs = c.addrs.as_str();
    let group = wait_until(
        "the group in query-status",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let status = dmctl(addrs, &["query-status", TASK_NAME]).await.ok();
            let group = status
                .as_ref()
                .map(|s| s["sources"][0]["subTaskStatus"][0]["sync"]["unresolvedGroups"][0].clone())
                .filter(|g| !g.is_null());
            match group {
                Some(g) => Check::Ready(g),
                None => Check::Pending(format!("{status:?}")),
            }
        },
    )
    .await
    .expect("unresolvedGroups");
    assert_eq!(group["target"], "`app`.`t`", "{group}");
    assert_eq!(
        group["synced"],
        serde_json::json!(["`app`.`t_1`"]),
        "{group}"
    );
    assert_eq!(
        group["unsynced"],
        serde_json::json!(["`app`.`t_2`"]),
        "{group}"
    );
    assert!(
        group["DDLs"][0]
            .as_str()
            .unwrap_or_default()
            .contains("ADD COLUMN extra"),
        "{group}"
    );

    // The worker dies with the window open; its successor keeps holding.
    let bound = bound_worker(&c.addrs, "mysql1")
        .await
        .expect("status")
        .expect("bound");
    let index = c.workers.index_of(&bound).expect("index");
    c.workers.kill(index).expect("SIGKILL the worker");
    wait_bound(&c.addrs, "mysql1", Some(&bound), DEADLINE)
        .await
        .expect("rebound");
    run(
        &c.upstream,
        "INSERT INTO app.t_2 (c) VALUES ('keep t2 after the kill')",
    )
    .await;
    wait_row(&c.downstream, "keep t2 after the kill").await;
    assert!(!has_row(&c.downstream, "keep t1 after").await, "still held");
    c.workers.spawn(index).expect("restart the worker");

    // t_2 reaches it too: the column is added, the held rows arrive.
    run(&c.upstream, &alter("t_2")).await;
    wait_row(&c.downstream, "keep t1 after").await;
    assert!(has_extra(&c.downstream).await);
    finish(&c, load).await;
    let got = rows(
        &c.downstream,
        "SELECT id, c, extra FROM app.t WHERE id = 5 OR c = 'keep t1 after' ORDER BY id",
    )
    .await;
    assert_eq!(
        got.iter().map(|r| r.2).collect::<Vec<_>>(),
        [Some(43), Some(42)],
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_while_re_applying_held_rows_is_succeeded_without_loss() {
    let (mut c, load) = start().await;
    run(&c.upstream, &alter("t_1")).await;
    // Many held rows: re-applying them takes a while.
    run(
        &c.upstream,
        "INSERT INTO app.t_1 (c, extra) SELECT CONCAT('keep bulk ', seq), seq FROM app.seq_1_to_30000",
    )
    .await;
    run(
        &c.upstream,
        "UPDATE app.t_1 SET extra = -extra WHERE c LIKE 'keep bulk %' AND id % 7 = 0",
    )
    .await;
    let bound = bound_worker(&c.addrs, "mysql1")
        .await
        .expect("status")
        .expect("bound");
    let index = c.workers.index_of(&bound).expect("index");
    run(&c.upstream, &alter("t_2")).await;
    // Killed as soon as it starts re-reading the held rows.
    let log = c.workers.log_path(index);
    let log = &log;
    wait_until(
        "the re-read begins",
        DEADLINE,
        Duration::from_millis(20),
        || async move {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("re-reading the rows held by the shard group") {
                Check::Ready(())
            } else {
                Check::Pending("not yet".to_string())
            }
        },
    )
    .await
    .expect("re-read");
    c.workers.kill(index).expect("SIGKILL the worker");
    wait_bound(&c.addrs, "mysql1", Some(&bound), DEADLINE)
        .await
        .expect("rebound");
    c.workers.spawn(index).expect("restart the worker");
    finish(&c, load).await;
    assert!(has_extra(&c.downstream).await);
    let resumed = (0..2)
        .map(|i| std::fs::read_to_string(c.workers.log_path(i)).unwrap_or_default())
        .any(|log| log.contains("the shard group's DDL already ran"));
    assert!(resumed, "the successor re-read the held rows");
}
