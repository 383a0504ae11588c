//! dm-worker's `GET /metrics` on `worker-addr`, over real processes and
//! MariaDB: after the copy and a few synced transactions the bound worker
//! shows the copy finished, the transactions, the lag and the binlog
//! positions `query-status` shows (the same numbers), the subtask's stage
//! as DM's numbers through a pause, and no series of the task once it is
//! stopped.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing, wait_task_stage};
use dm_tests::prometheus::{scrape, sum, value};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check};

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

const TASK: &str = "name: metrics\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// Upstream transactions made after the copy.
const TRANSACTIONS: u32 = 5;

/// `(file index, pos)` of a `(mysql-bin.000001, 1234)` position text.
fn position(text: &str) -> Option<(f64, f64)> {
    let (file, pos) = text
        .strip_prefix('(')?
        .strip_suffix(')')?
        .split_once(", ")?;
    let index: u64 = file.rsplit_once('.')?.1.parse().ok()?;
    Some((index as f64, pos.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_workers_metrics_show_what_query_status_shows() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)",
            "INSERT INTO app.t VALUES (1, 0), (2, 0), (3, 0)",
        ],
    )
    .await
    .expect("cluster");
    let worker = c.bound.clone();
    let addr = c
        .workers
        .index_of(&worker)
        .and_then(|i| c.workers.addr(i))
        .expect("the bound worker's address");
    c.start_task("metrics", TASK).await.expect("started");
    wait_syncing(&c.addrs, "metrics", DEADLINE)
        .await
        .expect("the copy finished, the sync runs");
    for i in 0..TRANSACTIONS {
        run_sql(
            &c.upstream,
            &[&format!("INSERT INTO app.t VALUES ({}, {i})", 10 + i)],
        )
        .await
        .expect("an upstream transaction");
    }
    c.wait_same_unpaused("metrics", "SELECT id, v FROM app.t ORDER BY id", DEADLINE)
        .await
        .expect("synced");

    let ts = [("task", "metrics"), ("source_id", "mysql1")];
    let tsw = [
        ("task", "metrics"),
        ("source_id", "mysql1"),
        ("worker", worker.as_str()),
    ];
    let started = std::time::Instant::now();
    wait_until(
        "the copy, the transactions and the running stage in /metrics",
        DEADLINE,
        POLL,
        || async {
            let samples = match scrape(&addr).await {
                Ok(s) => s,
                Err(e) => return Check::Pending(e),
            };
            let got = (
                value(&samples, "dm_loader_progress", &ts),
                value(&samples, "dm_loader_chunks_finished_total", &ts),
                value(&samples, "dm_loader_rows_total", &ts),
                value(&samples, "dm_syncer_finished_transaction_total", &tsw),
                value(&samples, "dm_syncer_replication_lag_gauge", &tsw),
                value(&samples, "dm_syncer_replication_lag_count", &tsw),
                value(&samples, "dm_worker_task_state", &tsw),
            );
            let lanes = (
                value(&samples, "dm_syncer_txn_duration_time_count", &tsw),
                sum(
                    &samples,
                    "dm_syncer_replication_transaction_batch_sum",
                    &[tsw[0], tsw[1], tsw[2], ("type", "rows")],
                ),
                value(
                    &samples,
                    "dm_syncer_queue_size",
                    &[ts[0], ts[1], ("queue_id", "q_0")],
                ),
            );
            match (got, lanes) {
                (
                    (
                        Some(progress),
                        Some(chunks),
                        Some(rows),
                        Some(transactions),
                        Some(_lag),
                        Some(_observed),
                        Some(stage),
                    ),
                    (Some(commits), Some(rows_applied), Some(_queued)),
                ) if progress == 1.0
                    && chunks >= 1.0
                    && rows == 3.0
                    && transactions >= f64::from(TRANSACTIONS)
                    && stage == 2.0
                    && commits >= 1.0
                    && rows_applied >= f64::from(TRANSACTIONS) =>
                {
                    Check::Ready(())
                }
                other => Check::Pending(format!("{other:?}")),
            }
        },
    )
    .await
    .expect("metrics after the copy and the sync");
    println!("copy and sync shown after {:?}", started.elapsed());

    // The binlog positions and the lag: the same numbers as query-status
    // (both move with the heartbeats, so wait until they meet).
    wait_until(
        "query-status and /metrics showing the same positions and lag",
        DEADLINE,
        POLL,
        || async {
            let status = match dmctl(&c.addrs, &["query-status", "metrics"]).await {
                Ok(s) => s,
                Err(e) => return Check::Pending(e.to_string()),
            };
            let samples = match scrape(&addr).await {
                Ok(s) => s,
                Err(e) => return Check::Pending(e),
            };
            let subtasks = subtasks_of(&status, "metrics");
            let Some((_, subtask)) = subtasks.first() else {
                return Check::Pending(status.to_string());
            };
            let sync = &subtask["sync"];
            let shown = (
                sync["syncerBinlog"].as_str().and_then(position),
                sync["masterBinlog"].as_str().and_then(position),
                sync["secondsBehindMaster"]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok()),
            );
            let node = |node: &'static str| {
                let labels = [("node", node), ts[0], ts[1]];
                Some((
                    value(&samples, "dm_syncer_binlog_file", &labels)?,
                    value(&samples, "dm_syncer_binlog_pos", &labels)?,
                ))
            };
            let exported = (
                node("syncer"),
                node("master"),
                value(&samples, "dm_syncer_replication_lag_gauge", &tsw),
            );
            if shown.0.is_some() && shown.1.is_some() && shown.2.is_some() && shown == exported {
                Check::Ready(())
            } else {
                Check::Pending(format!("query-status {shown:?}, /metrics {exported:?}"))
            }
        },
    )
    .await
    .expect("the same numbers");

    // Paused: DM's Paused (3).
    let paused = dmctl(&c.addrs, &["pause-task", "metrics"])
        .await
        .expect("answer");
    assert_eq!(paused["result"], true, "{paused}");
    wait_task_stage(&c.addrs, "metrics", "Paused", DEADLINE)
        .await
        .expect("paused");
    wait_until("dm_worker_task_state 3", DEADLINE, POLL, || async {
        let samples = scrape(&addr).await.map_err(|e| e.to_string())?;
        match value(&samples, "dm_worker_task_state", &tsw) {
            Some(3.0) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .expect("the paused stage");

    // Stopped: the task's series are gone, the families stay.
    let stopped = dmctl(&c.addrs, &["stop-task", "metrics"])
        .await
        .expect("answer");
    assert_eq!(stopped["result"], true, "{stopped}");
    wait_until("no series of the stopped task", DEADLINE, POLL, || async {
        let samples = scrape(&addr).await.map_err(|e| e.to_string())?;
        let left: Vec<String> = samples
            .iter()
            .filter(|s| s.labels.get("task").map(String::as_str) == Some("metrics"))
            .map(|s| format!("{} {:?}", s.name, s.labels))
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await
    .expect("stale series removed");
}
