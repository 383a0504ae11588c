//! The source file's `checker` decides the auto-resume of a subtask paused
//! by a transient error, with DM's meaning: `check-enable: false` leaves it
//! paused until `resume-task`; `backoff-min` is the least time between
//! resumes (measured from the last one), so a large one keeps it paused
//! and a small one resumes it by itself once the downstream is back.

use std::time::{Duration, Instant};

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::{wait_until, Check, Restart};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
/// How long a paused subtask is watched to stay paused: longer than any
/// automatic retry would wait after an outage this short, were one due.
const STAYS_PAUSED: Duration = Duration::from_secs(8);

const TASK: &str = "name: resume\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

async fn cluster(checker: &str) -> OneSource {
    let c = OneSource::start_with_source(
        1,
        checker,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'one'), (2, 'two')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("resume", TASK).await.expect("started");
    wait_syncing(&c.addrs, "resume", DEADLINE)
        .await
        .expect("syncing");
    c.wait_same("resume", "SELECT * FROM app.t ORDER BY id", DEADLINE)
        .await
        .expect("copied");
    c
}

async fn subtask(c: &OneSource) -> Value {
    let answer = dmctl(&c.addrs, &["query-status", "resume"])
        .await
        .unwrap_or_default();
    subtasks_of(&answer, "resume")
        .first()
        .map(|(_, s)| (*s).clone())
        .unwrap_or_default()
}

/// Stops the downstream, writes upstream, waits until the subtask is paused
/// by the error, and starts the downstream again; the paused status.
async fn outage(c: &mut OneSource) -> Value {
    c.downstream.halt(Restart::Crash).expect("halt downstream");
    dm_tests::tutorial::run_sql(&c.upstream, &["INSERT INTO app.t VALUES (3, 'three')"])
        .await
        .expect("upstream write");
    let paused = wait_until(
        "the subtask paused by the outage",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let s = subtask(c).await;
            if s["stage"] == "Paused" && s["result"]["errors"][0].is_object() {
                Check::Ready(s)
            } else {
                Check::Pending(s.to_string())
            }
        },
    )
    .await
    .expect("paused");
    c.downstream.start_again().await.expect("downstream back");
    paused
}

/// Watches the subtask stay paused for [`STAYS_PAUSED`]; its last status.
async fn stays_paused(c: &OneSource) -> Value {
    let since = Instant::now();
    wait_until(
        "the subtask still paused",
        STAYS_PAUSED + DEADLINE,
        Duration::from_millis(200),
        || async move {
            let s = subtask(c).await;
            if s["stage"] != "Paused" {
                return Check::Abort(dm_tests::HarnessError::Task(format!(
                    "resumed by itself after {:?}: {s}",
                    since.elapsed()
                )));
            }
            if since.elapsed() >= STAYS_PAUSED {
                Check::Ready(s)
            } else {
                Check::Pending(s.to_string())
            }
        },
    )
    .await
    .expect("stays paused")
}

fn workaround(s: &Value) -> String {
    s["result"]["errors"][0]["Workaround"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `resume-task`, then the downstream catches up.
async fn resume_and_catch_up(c: &OneSource) {
    let answer = dmctl(&c.addrs, &["resume-task", "resume"])
        .await
        .expect("resume-task");
    assert_eq!(answer["result"], true, "{answer}");
    caught_up(c).await;
}

/// Waits until the subtask runs again without an error, then until the
/// downstream has every row.
async fn caught_up(c: &OneSource) {
    wait_until(
        "the subtask running again",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            let s = subtask(c).await;
            if s["stage"] == "Running" && s["result"].is_null() {
                Check::Ready(())
            } else {
                Check::Pending(s.to_string())
            }
        },
    )
    .await
    .expect("running");
    c.wait_same("resume", "SELECT * FROM app.t ORDER BY id", DEADLINE)
        .await
        .expect("caught up");
    assert_eq!(
        query_rows(&c.downstream, "SELECT COUNT(*) FROM app.t").await,
        vec![vec![mysql_async::Value::Bytes(b"3".to_vec())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_enable_false_keeps_a_transient_failure_paused_until_resume_task() {
    let mut c =
        cluster("checker:\n  check-enable: false\n  backoff-min: 100ms\n  check-interval: 100ms\n")
            .await;
    outage(&mut c).await;
    let paused = stays_paused(&c).await;
    let text = workaround(&paused);
    assert!(
        text.contains("checker.check-enable is false") && text.contains("resume-task"),
        "says why it waits: {text}"
    );
    resume_and_catch_up(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_backoff_min_keeps_it_paused_and_says_how_long() {
    let mut c = cluster(
        "checker:\n  backoff-min: 1h\n  backoff-max: 2h\n  check-interval: 100ms\n  backoff-jitter: false\n",
    )
    .await;
    outage(&mut c).await;
    let paused = stays_paused(&c).await;
    let text = workaround(&paused);
    assert!(
        text.contains("retries by itself in at most 35") && text.contains("resume-task"),
        "says when (within the hour since the task started): {text}"
    );
    resume_and_catch_up(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_backoff_min_resumes_by_itself() {
    let mut c = cluster(
        "checker:\n  backoff-min: 200ms\n  backoff-max: 1s\n  check-interval: 200ms\n  backoff-jitter: false\n",
    )
    .await;
    outage(&mut c).await;
    caught_up(&c).await;
}
