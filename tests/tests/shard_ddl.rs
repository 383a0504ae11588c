//! Pessimistic shard-DDL locks over real processes: the tutorial's three
//! shards of `dmtest1.t1` merged by `dmtask1` (`is-sharding: true`) under a
//! write load on every shard; `ALTER TABLE ... ADD COLUMN` issued on the
//! shards one after another. `show-ddl-locks` shows the lock waiting with
//! the right sources; after the last shard the column exists downstream,
//! the DDL ran exactly once (one "executed" across all workers' logs), no
//! row was lost or duplicated, and the lock is gone. The same with the
//! master leader killed after the second shard, with the leader killed
//! after the owner executed but before the others skipped, and with the
//! owning worker killed; a lock whose last shard never issues the DDL,
//! resolved with `unlock-ddl-lock`; and different DDLs on two shards, which
//! pause the late source with both statements shown. DM's later names,
//! `shard-ddl-lock [TASK]` and `shard-ddl-lock unlock`, show and resolve
//! the same lock. The first scenario
//! runs again with shards that log no column names
//! (`binlog_row_metadata=NO_LOG`): each subtask's schema tracker follows
//! the DDL and decodes the rows written after it.

use std::future::Future;
use std::time::Duration;

use dm_tests::cluster::{bound_worker, dmctl, wait_task_stage};
use dm_tests::scenario::{ShardLoad, TutorialCluster};
use dm_tests::tutorial::{merged_rows, run_sql, wait_rows};
use dm_tests::{wait_until, Check, MariaDb, RowMetadata};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK: &str = "dmtask1";
const LOCK: &str = "dmtask1-`dmtest1`.`t1`";
const ALTER: &str = "ALTER TABLE dmtest1.t1 ADD COLUMN extra INT NOT NULL DEFAULT 7";

async fn start() -> TutorialCluster {
    start_logging(RowMetadata::Full).await
}

/// The cluster with the shards logging `row_metadata`.
async fn start_logging(row_metadata: RowMetadata) -> TutorialCluster {
    TutorialCluster::dmtask1_replicating_logging(row_metadata, DEADLINE)
        .await
        .expect("dmtask1 replicating")
}

/// The lock as `show-ddl-locks` shows it, if it exists.
async fn lock(addrs: &str) -> Option<Value> {
    let answer = dmctl(addrs, &["show-ddl-locks"]).await.ok()?;
    answer["locks"]
        .as_array()?
        .iter()
        .find(|l| l["ID"] == LOCK)
        .cloned()
}

fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Waits until the lock shows exactly `synced` as arrived.
async fn wait_synced(addrs: &str, synced: &[&str]) -> Value {
    let want: Vec<String> = synced.iter().map(|s| s.to_string()).collect();
    poll(&format!("lock {LOCK} synced by {synced:?}"), || {
        let want = want.clone();
        async move {
            match lock(addrs).await {
                Some(l) if names(&l["synced"]) == want => Check::Ready(l),
                other => Check::Pending(format!("{other:?}")),
            }
        }
    })
    .await
}

/// Polls `condition` every 50 ms until it is ready; fails at the deadline.
async fn poll<T, F, Fut>(what: &str, condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check<T>>,
{
    wait_until(what, DEADLINE, Duration::from_millis(50), condition)
        .await
        .expect(what)
}

async fn wait_lock_gone(addrs: &str) {
    poll("the lock resolved", || async move {
        match lock(addrs).await {
            None => Check::Ready(()),
            Some(l) => Check::Pending(format!("{l}")),
        }
    })
    .await
}

async fn has_extra_column(server: &MariaDb) -> bool {
    let Ok(mut conn) = server.conn().await else {
        return false;
    };
    let found: Option<String> = conn
        .query_first("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'dmtest1' AND TABLE_NAME = 't1' AND COLUMN_NAME = 'extra'")
        .await
        .unwrap_or(None);
    found.is_some()
}

async fn wait_extra_column(server: &MariaDb) {
    poll("the column downstream", || async move {
        if has_extra_column(server).await {
            Check::Ready(())
        } else {
            Check::Pending("no column `extra` yet".to_string())
        }
    })
    .await
}

/// How many times a worker ran the DDL downstream, from every log.
fn executions(c: &TutorialCluster) -> usize {
    (0..3)
        .map(|i| {
            std::fs::read_to_string(c.workers.log_path(i))
                .unwrap_or_default()
                .matches("shard DDL executed downstream")
                .count()
        })
        .sum()
}

async fn alter(c: &TutorialCluster, shard: usize) {
    run_sql(&c.dbs.upstreams[shard], &[ALTER])
        .await
        .expect("ALTER on a shard");
}

/// Ends a scenario: writes stop, the downstream equals the merged shards
/// row for row, every `extra` is the default, every subtask runs.
async fn finish(c: &TutorialCluster, load: ShardLoad) {
    let writes = load.stop().await;
    assert!(writes > 0, "the shards were written to");
    let expected = merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("upstream rows");
    wait_rows(&c.dbs.downstream, "dmtest1", &expected, DEADLINE)
        .await
        .expect("downstream equals the merged shards");
    let mut conn = c.dbs.downstream.conn().await.expect("downstream");
    let not_default: u64 = conn
        .query_first("SELECT COUNT(*) FROM dmtest1.t1 WHERE extra <> 7")
        .await
        .expect("extra")
        .unwrap_or(u64::MAX);
    assert_eq!(not_default, 0);
    wait_task_stage(&c.addrs, TASK, "Running", DEADLINE)
        .await
        .expect("every subtask runs");
}

async fn kill_leader(c: &mut TutorialCluster) {
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let index = c.masters.index_of(&leader).expect("index");
    c.masters.kill(index).expect("kill the leader");
    c.masters.leader(DEADLINE).await.expect("a new leader");
    c.masters.spawn(index).expect("restart the master");
}

fn worker_of(c: &TutorialCluster, name: &str) -> usize {
    c.workers.index_of(name).expect("worker index")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_reach_the_ddl_one_after_another_and_it_runs_once() {
    shards_reach_the_ddl_one_after_another(RowMetadata::Full).await;
}

/// The same with shards that log no column names: the tracker of each
/// shard's subtask follows the DDL and decodes the rows written after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_reach_the_ddl_one_after_another_and_it_runs_once_from_no_log_upstreams() {
    shards_reach_the_ddl_one_after_another(RowMetadata::NoLog).await;
}

async fn shards_reach_the_ddl_one_after_another(row_metadata: RowMetadata) {
    let mut c = start_logging(row_metadata).await;
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    alter(&c, 0).await;
    let l = wait_synced(&c.addrs, &["mysql1"]).await;
    assert_eq!(l["owner"], "mysql1");
    assert_eq!(l["task"], TASK);
    assert_eq!(l["mode"], "pessimistic");
    assert_eq!(names(&l["unsynced"]), ["mysql2", "mysql3"]);
    let ddls = format!("{}", l["DDLs"]);
    assert!(ddls.contains("ADD COLUMN extra"), "{ddls}");
    let status = dmctl(&c.addrs, &["query-status", TASK])
        .await
        .expect("status");
    let shown = format!("{status}");
    assert!(shown.contains(LOCK), "unresolvedDDLLockID: {shown}");
    assert!(shown.contains("ADD COLUMN extra"), "blockingDDLs: {shown}");
    assert!(!has_extra_column(&c.dbs.downstream).await);

    alter(&c, 1).await;
    let l = wait_synced(&c.addrs, &["mysql1", "mysql2"]).await;
    assert_eq!(names(&l["unsynced"]), ["mysql3"]);
    // The leader dies with the lock half way: the new leader has it.
    kill_leader(&mut c).await;
    let l = wait_synced(&c.addrs, &["mysql1", "mysql2"]).await;
    assert_eq!(l["owner"], "mysql1");
    assert!(!has_extra_column(&c.dbs.downstream).await);

    alter(&c, 2).await;
    wait_lock_gone(&c.addrs).await;
    assert!(has_extra_column(&c.dbs.downstream).await);
    finish(&c, load).await;
    assert_eq!(executions(&c), 1);
    let none = dmctl(&c.addrs, &["show-ddl-locks"]).await.expect("locks");
    assert_eq!(none["msg"], "no DDL lock exists", "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_dies_after_the_owner_executed_before_the_others_skip() {
    let mut c = start().await;
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    alter(&c, 0).await;
    // mysql1 arrives first: it owns the lock.
    wait_synced(&c.addrs, &["mysql1"]).await;
    alter(&c, 1).await;
    wait_synced(&c.addrs, &["mysql1", "mysql2"]).await;
    // mysql2's worker is frozen: it cannot skip until it thaws.
    let frozen = bound_worker(&c.addrs, "mysql2")
        .await
        .expect("status")
        .expect("bound");
    let frozen = worker_of(&c, &frozen);
    c.workers.signal(frozen, libc::SIGSTOP).expect("SIGSTOP");
    alter(&c, 2).await;
    wait_extra_column(&c.dbs.downstream).await;
    // The owner executed; mysql2 has not skipped yet.
    let l = lock(&c.addrs).await.expect("the lock waits for mysql2");
    assert_eq!(l["owner"], "mysql1");
    kill_leader(&mut c).await;
    c.workers.signal(frozen, libc::SIGCONT).expect("SIGCONT");
    wait_lock_gone(&c.addrs).await;
    finish(&c, load).await;
    assert_eq!(executions(&c), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owning_worker_dies_and_its_successor_takes_the_role() {
    let mut c = start().await;
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    alter(&c, 0).await;
    wait_synced(&c.addrs, &["mysql1"]).await;
    let owner = bound_worker(&c.addrs, "mysql1")
        .await
        .expect("status")
        .expect("bound");
    let owner = worker_of(&c, &owner);
    c.workers.kill(owner).expect("SIGKILL the owner's worker");
    alter(&c, 1).await;
    alter(&c, 2).await;
    wait_synced(&c.addrs, &["mysql1", "mysql2", "mysql3"]).await;
    // The worker comes back; mysql1 runs again, re-reads its DDL and
    // executes it as the owner.
    c.workers.spawn(owner).expect("restart the worker");
    wait_lock_gone(&c.addrs).await;
    assert!(has_extra_column(&c.dbs.downstream).await);
    finish(&c, load).await;
    assert_eq!(executions(&c), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shard_ddl_lock_shows_and_unlocks_under_dms_later_names() {
    let c = start().await;
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    alter(&c, 0).await;
    alter(&c, 1).await;
    wait_synced(&c.addrs, &["mysql1", "mysql2"]).await;
    let shown = dmctl(&c.addrs, &["shard-ddl-lock", TASK])
        .await
        .expect("shard-ddl-lock");
    let old = dmctl(&c.addrs, &["show-ddl-locks", TASK])
        .await
        .expect("show-ddl-locks");
    assert_eq!(shown, old);
    assert_eq!(shown["locks"][0]["ID"], LOCK, "{shown}");
    assert_eq!(names(&shown["locks"][0]["unsynced"]), ["mysql3"], "{shown}");
    let other = dmctl(&c.addrs, &["shard-ddl-lock", "dmtask2"])
        .await
        .expect("shard-ddl-lock");
    assert_eq!(other["locks"], serde_json::json!([]), "{other}");
    let bad = dmctl(&c.addrs, &["shard-ddl-lock", "unlock", LOCK, "-a", "run"])
        .await
        .expect("unlock");
    assert_eq!(
        bad,
        serde_json::json!({"result": false, "msg": "please check --action argument, only exec/skip are acceptable"})
    );
    assert!(lock(&c.addrs).await.is_some());
    let answer = dmctl(
        &c.addrs,
        &["shard-ddl-lock", "unlock", LOCK, "--action", "exec"],
    )
    .await
    .expect("unlock");
    assert_eq!(answer, serde_json::json!({"result": true, "msg": ""}));
    wait_lock_gone(&c.addrs).await;
    assert!(has_extra_column(&c.dbs.downstream).await);
    load.stop().await;
    let expected = merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("upstream rows");
    wait_rows(&c.dbs.downstream, "dmtest1", &expected, DEADLINE)
        .await
        .expect("downstream equals the merged shards");
    assert_eq!(executions(&c), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlock_resolves_a_lock_whose_last_shard_never_arrives() {
    let c = start().await;
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    alter(&c, 0).await;
    alter(&c, 1).await;
    wait_synced(&c.addrs, &["mysql1", "mysql2"]).await;
    let bad = dmctl(&c.addrs, &["unlock-ddl-lock", "nope-`x`.`y`"])
        .await
        .expect("unlock");
    assert_eq!(bad["result"], false, "{bad}");
    let answer = dmctl(&c.addrs, &["unlock-ddl-lock", LOCK])
        .await
        .expect("unlock");
    assert_eq!(answer["result"], true, "{answer}");
    wait_lock_gone(&c.addrs).await;
    assert!(has_extra_column(&c.dbs.downstream).await);
    // mysql3 never got the column upstream; its rows still arrive.
    assert!(!has_extra_column(&c.dbs.upstreams[2]).await);
    let writes = load.stop().await;
    assert!(writes > 0);
    let expected = merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("upstream rows");
    wait_rows(&c.dbs.downstream, "dmtest1", &expected, DEADLINE)
        .await
        .expect("downstream equals the merged shards");
    assert_eq!(executions(&c), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn different_ddls_on_different_shards_pause_with_both_shown() {
    let c = start().await;
    alter(&c, 0).await;
    wait_synced(&c.addrs, &["mysql1"]).await;
    run_sql(
        &c.dbs.upstreams[1],
        &["ALTER TABLE dmtest1.t1 ADD COLUMN other INT NOT NULL DEFAULT 8"],
    )
    .await
    .expect("another ALTER on shard 2");
    let addrs = c.addrs.as_str();
    let error = poll("mysql2 paused with both DDLs", || async move {
        let status = dmctl(addrs, &["query-status", TASK]).await.ok();
        let paused = status.as_ref().and_then(|s| {
            s["sources"].as_array()?.iter().find_map(|source| {
                let sub = &source["subTaskStatus"][0];
                (source["sourceStatus"]["source"] == "mysql2" && sub["stage"] == "Paused")
                    .then(|| sub["result"].to_string())
            })
        });
        match paused {
            Some(e) => Check::Ready(e),
            None => Check::Pending(format!("{status:?}")),
        }
    })
    .await;
    assert!(error.contains("ADD COLUMN other"), "{error}");
    assert!(error.contains("ADD COLUMN extra"), "{error}");
    // Nothing ran downstream.
    assert!(!has_extra_column(&c.dbs.downstream).await);
    assert_eq!(executions(&c), 0);
}
