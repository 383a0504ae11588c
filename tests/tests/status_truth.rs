//! `query-status` tells the truth: `synced` only when every upstream
//! change is applied (never while paused or behind), `masterBinlog` is the
//! upstream's own position, and a downstream outage shows the sync unit
//! retrying by itself with its next retry time, then recovering without
//! `resume-task`; after a healthy while the next blip is retried at once,
//! not after the backoff the old outage had grown to.

use std::time::{Duration, Instant};

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::{load_rows, OneSource, WriteLoad, LOAD_TABLE};
use dm_tests::{wait_until, Check, MariaDb, Restart};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: truth\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

async fn cluster() -> OneSource {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            LOAD_TABLE,
            "INSERT INTO app.t (v, note) SELECT 0, CONCAT('seed ', seq) FROM app.seq_1_to_1000",
            "CREATE DATABASE other",
            "CREATE TABLE other.x (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("truth", TASK).await.expect("started");
    wait_syncing(&c.addrs, "truth", DEADLINE)
        .await
        .expect("syncing");
    c
}

/// The one subtask's status.
async fn subtask(c: &OneSource) -> Value {
    let answer = dmctl(&c.addrs, &["query-status", "truth"])
        .await
        .expect("status");
    subtasks_of(&answer, "truth")
        .first()
        .map(|(_, s)| (*s).clone())
        .unwrap_or(Value::Null)
}

/// `(file, pos)` as `query-status` prints positions.
async fn master_status(server: &MariaDb) -> String {
    let (file, pos) = server.binlog_end().await.expect("binlog end");
    format!("({file}, {pos})")
}

async fn count(server: &MariaDb) -> usize {
    load_rows(server).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn synced_and_master_binlog_say_what_is_applied() {
    let c = cluster().await;
    // Writes the task does not replicate still move the upstream's end:
    // `masterBinlog` follows it and the sync is synced once past it.
    {
        let mut conn = c.upstream.conn().await.expect("conn");
        for v in 0..20 {
            conn.exec_drop("INSERT INTO other.x (v) VALUES (?)", (v,))
                .await
                .expect("write");
        }
    }
    let end = master_status(&c.upstream).await;
    wait_until(
        "masterBinlog at the upstream's end, synced",
        DEADLINE,
        Duration::from_millis(100),
        || {
            let (c, end) = (&c, &end);
            async move {
                let s = subtask(c).await;
                let sync = &s["sync"];
                if sync["masterBinlog"] == end.as_str()
                    && sync["syncerBinlog"] == end.as_str()
                    && sync["synced"] == true
                {
                    Check::Ready(())
                } else {
                    Check::Pending(format!("upstream at {end}: {s}"))
                }
            }
        },
    )
    .await
    .expect("synced at the end");

    // Paused: nothing is applied, so nothing is synced.
    let answer = dmctl(&c.addrs, &["pause-task", "truth"])
        .await
        .expect("pause");
    assert_eq!(answer["result"], true, "{answer}");
    wait_until(
        "paused and not synced",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let s = subtask(&c).await;
            if s["stage"] == "Paused" && s["sync"]["synced"] == false {
                Check::Ready(())
            } else {
                Check::Pending(s.to_string())
            }
        },
    )
    .await
    .expect("paused");

    // A backlog: while it is applied, `synced` never claims what the
    // downstream does not have.
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(1500, DEADLINE).await.expect("backlog");
    load.stop().await.expect("load");
    let want = count(&c.upstream).await;
    let answer = dmctl(&c.addrs, &["resume-task", "truth"])
        .await
        .expect("resume");
    assert_eq!(answer["result"], true, "{answer}");
    let mut samples = 0;
    let mut behind_samples = 0;
    let started = Instant::now();
    loop {
        let s = subtask(&c).await;
        let have = count(&c.downstream).await;
        samples += 1;
        if have < want {
            behind_samples += 1;
            assert_ne!(
                s["sync"]["synced"], true,
                "synced with {have} of {want} rows downstream: {s}"
            );
        } else if s["sync"]["synced"] == true && s["stage"] == "Running" {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "never synced: {have} of {want} rows, {s}"
        );
    }
    println!("{samples} status samples, {behind_samples} while behind");
}

/// The automatic retry count the status shows, when it shows one.
fn automatic_retry(s: &Value) -> Option<u64> {
    let text = s["result"]["errors"][0]["Workaround"].as_str()?;
    let (_, after) = text.split_once("automatic retry ")?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `n` more upstream transactions on `app.t`, then the load stops.
async fn burst(c: &OneSource, n: u32) {
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(n, DEADLINE).await.expect("writes");
    load.stop().await.expect("load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_downstream_outage_is_retried_by_itself_and_the_status_says_so() {
    let mut c = cluster().await;
    burst(&c, 50).await;
    wait_in_sync(&c).await;

    // An outage long enough for the backoff to grow.
    c.downstream.halt(Restart::Crash).expect("halt downstream");
    burst(&c, 50).await;
    let during = wait_until(
        "the status shows the sync retrying by itself",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let s = subtask(&c).await;
            match automatic_retry(&s) {
                Some(n) if n >= 4 => Check::Ready(s),
                _ => Check::Pending(s.to_string()),
            }
        },
    )
    .await
    .expect("retrying");
    assert_eq!(during["unit"], "Sync", "still the sync unit: {during}");
    assert_ne!(during["sync"]["synced"], true, "{during}");
    let workaround = during["result"]["errors"][0]["Workaround"]
        .as_str()
        .unwrap_or_default();
    assert!(
        workaround.contains("retries by itself in"),
        "says when: {workaround}"
    );
    c.downstream.start_again().await.expect("downstream back");
    let recovered = wait_in_sync(&c).await;
    println!("recovered {recovered:?} after the outage ended, without resume-task");

    // Healthy for longer than the grown backoff, under load...
    let healthy_since = Instant::now();
    while healthy_since.elapsed() < Duration::from_secs(20) {
        burst(&c, 20).await;
        wait_in_sync(&c).await;
    }
    // ...then a blip: retried at once, not after the old outage's backoff
    // (16 s by then).
    c.downstream.restart(Restart::Crash).await.expect("blip");
    burst(&c, 20).await;
    let blip = wait_in_sync(&c).await;
    println!("recovered {blip:?} after a blip");
    assert!(
        blip < Duration::from_secs(8),
        "a blip after a healthy run is retried at once, took {blip:?}"
    );
    c.wait_load_in_sync("truth", DEADLINE)
        .await
        .expect("in sync");
}

/// Waits until the downstream has every upstream row and the subtask
/// runs; how long that took.
async fn wait_in_sync(c: &OneSource) -> Duration {
    let started = Instant::now();
    wait_until(
        "the downstream caught up",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let up = count(&c.upstream).await;
            let down = count(&c.downstream).await;
            let s = subtask(c).await;
            if up == down && s["stage"] == "Running" {
                Check::Ready(())
            } else {
                Check::Pending(format!("{down} of {up} rows: {s}"))
            }
        },
    )
    .await
    .expect("caught up");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_whose_workers_are_all_gone_says_its_source_is_not_bound() {
    let mut c = cluster().await;
    c.workers.kill(0).expect("kill the only worker");
    let summary = wait_until(
        "the summary says the source is not bound",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["query-status"]).await.ok()?;
            let status = answer["tasks"][0]["taskStatus"].as_str()?.to_string();
            status.starts_with("Source not bound").then_some(status)
        },
    )
    .await
    .expect("not bound");
    assert!(summary.contains("mysql1"), "{summary}");
    let s = subtask(&c).await;
    assert!(
        s.to_string().contains("source not bound"),
        "the subtask says why: {s}"
    );
}
