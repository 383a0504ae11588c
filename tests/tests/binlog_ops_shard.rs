//! `binlog skip` in a pessimistic sharded merge (the tutorial's `dmtask1`,
//! three shards of `dmtest1.t1`): the downstream rejects the lock's DDL
//! when its owner runs it, so the owner pauses with the statement and where
//! it starts, while the other sources wait in the lock (DM's answer for
//! them: no error). A skip at the owner counts as the lock's DDL done: the
//! others go on, nothing runs downstream, and every row arrives. A
//! replace at the owner runs as the lock's DDL, once.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_task_stage};
use dm_tests::scenario::{ShardLoad, TutorialCluster};
use dm_tests::tutorial::{merged_rows, run_sql, wait_rows};
use dm_tests::{wait_until, Check};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK: &str = "dmtask1";
const ALTER: &str = "ALTER TABLE dmtest1.t1 ADD COLUMN extra INT NOT NULL DEFAULT 7";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skip_at_the_lock_owner_counts_as_the_locks_ddl_done() {
    at_the_owner(&["binlog", "skip", TASK], "YES").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_at_the_lock_owner_runs_as_the_locks_ddl() {
    at_the_owner(
        &[
            "binlog",
            "replace",
            TASK,
            "ALTER TABLE dmtest1.t1 MODIFY COLUMN extra INT NOT NULL DEFAULT 7",
        ],
        "NO",
    )
    .await;
}

/// The owner pauses on the lock's DDL; `command` is sent without `-s`;
/// `extra` ends nullable or not as `nullable` says.
async fn at_the_owner(command: &[&str], nullable_after: &str) {
    let c = TutorialCluster::dmtask1_replicating(DEADLINE)
        .await
        .expect("dmtask1 replicating");
    // The downstream has `extra` already, nullable: the lock's DDL is
    // rejected as another definition.
    run_sql(
        &c.dbs.downstream,
        &["ALTER TABLE dmtest1.t1 ADD COLUMN extra INT DEFAULT 7"],
    )
    .await
    .expect("downstream column");
    for shard in &c.dbs.upstreams {
        run_sql(shard, &[ALTER]).await.expect("ALTER on a shard");
    }
    let addrs = c.addrs.as_str();
    let (owner, message) = wait_until(
        "the owner paused",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let Ok(answer) = dmctl(addrs, &["query-status", TASK]).await else {
                return Check::Pending("no status".to_string());
            };
            for (source, s) in subtasks_of(&answer, TASK) {
                let result = s["result"].to_string();
                if s["stage"] == "Paused" && result.contains("ADD COLUMN extra") {
                    return Check::Ready((source, result));
                }
            }
            Check::Pending(answer.to_string())
        },
    )
    .await
    .expect("a pause at the owner");
    assert!(message.contains("startLocation: [position: ("), "{message}");

    let answer = dmctl(addrs, command).await.expect("dmctl answers");
    assert_eq!(answer["result"], true, "{answer}");
    let sources = answer["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 3, "{answer}");
    for s in sources {
        let source = s["source"].as_str().unwrap_or_default();
        if source == owner {
            assert_eq!(s["result"], true, "{answer}");
        } else {
            assert_eq!(s["result"], false, "{answer}");
            assert_eq!(
                s["msg"],
                format!("source '{source}' has no error"),
                "{answer}"
            );
        }
    }

    // The lock resolves: every source goes on.
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    wait_until(
        "the lock resolved",
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let answer = dmctl(addrs, &["show-ddl-locks"]).await.ok()?;
            answer["locks"]
                .as_array()
                .is_some_and(|l| l.is_empty())
                .then_some(())
        },
    )
    .await
    .expect("no lock");
    let writes = load.stop().await;
    assert!(writes > 0, "the shards were written to");
    let expected = merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("upstream rows");
    wait_rows(&c.dbs.downstream, "dmtest1", &expected, DEADLINE)
        .await
        .expect("downstream equals the merged shards");
    wait_task_stage(addrs, TASK, "Running", DEADLINE)
        .await
        .expect("every subtask runs");
    // A skip ran nothing downstream (the column is the downstream's own);
    // a replace ran the replacement.
    let mut conn = c.dbs.downstream.conn().await.expect("downstream");
    let nullable: Option<String> = conn
        .query_first("SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'dmtest1' AND TABLE_NAME = 't1' AND COLUMN_NAME = 'extra'")
        .await
        .expect("column");
    assert_eq!(nullable.as_deref(), Some(nullable_after));
    let not_seven: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM dmtest1.t1 WHERE extra IS NULL OR extra <> 7")
        .await
        .expect("extra");
    assert_eq!(not_seven, Some(0));
    let executed: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(c.workers.log_path(i))
                .unwrap_or_default()
                .matches("shard DDL executed downstream")
                .count()
        })
        .sum();
    let want = usize::from(command[1] == "replace");
    assert_eq!(executed, want, "the lock's DDL ran as often as replaced");
}
