//! The downstream stops while the full copy writes its chunks: the chunks
//! in flight fail, the copy retries by itself once the downstream is back,
//! and the table arrives row for row (no chunk twice, none missing).

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of};
use dm_tests::scenario::OneSource;
use dm_tests::{wait_until, Restart};

const DEADLINE: Duration = Duration::from_secs(120);

const ROWS: u32 = 100_000;

const TASK: &str = "name: outage\ntask-mode: full\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    mydumper-config-name: \"small\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\nmydumpers:\n  small:\n    threads: 2\n    rows: 20000\n    statement-size: 16384\n";

/// Rows the copy has finished, as `query-status` says.
async fn copied(c: &OneSource) -> Option<i64> {
    let answer = dmctl(&c.addrs, &["query-status", "outage"]).await.ok()?;
    let subtasks = subtasks_of(&answer, "outage");
    let (_, status) = subtasks.first()?;
    status["load"]["finishedRows"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| status["load"]["finishedRows"].as_i64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_downstream_outage_mid_copy_is_retried_and_the_copy_completes() {
    let mut c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, pad VARCHAR(200) NOT NULL)",
            &format!(
                "INSERT INTO app.t SELECT seq, seq % 97, REPEAT('p', 200) FROM app.seq_1_to_{ROWS}"
            ),
        ],
    )
    .await
    .expect("cluster");
    c.start_task("outage", TASK).await.expect("started");
    // Stopped while chunks are being written.
    wait_until(
        "the copy under way",
        DEADLINE,
        Duration::from_millis(10),
        || async {
            copied(&c)
                .await
                .filter(|n| *n > 0 && *n < i64::from(ROWS) / 2)
        },
    )
    .await
    .expect("copying");
    c.downstream.halt(Restart::Crash).expect("halt downstream");
    wait_until(
        "the copy failing on the downstream",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["query-status", "outage"]).await.ok()?;
            let text = answer.to_string();
            text.contains("retries by itself").then_some(())
        },
    )
    .await
    .expect("retrying");
    c.downstream.start_again().await.expect("downstream back");
    // Paused by the transient error for a moment, then retried: never
    // resumed by hand.
    wait_until(
        "the copy finishes without resume-task",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["query-status", "outage"]).await.ok()?;
            let subtasks = subtasks_of(&answer, "outage");
            (subtasks.len() == 1 && subtasks.iter().all(|(_, s)| s["stage"] == "Finished"))
                .then_some(())
        },
    )
    .await
    .expect("finished");
    c.wait_same(
        "outage",
        "SELECT COUNT(*), SUM(v), SUM(CRC32(CONCAT_WS('|', id, v, pad))) FROM app.t",
        DEADLINE,
    )
    .await
    .expect("row for row");
    let answer = dmctl(&c.addrs, &["query-status", "outage"])
        .await
        .expect("status");
    assert!(
        answer
            .to_string()
            .contains(&format!("\"finishedRows\":\"{ROWS}\""))
            || answer
                .to_string()
                .contains(&format!("\"finishedRows\":{ROWS}")),
        "every row copied once: {answer}"
    );
}
