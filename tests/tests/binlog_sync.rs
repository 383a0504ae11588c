//! Incremental replication (`task-mode: all`) over real processes and
//! MariaDB: the tutorial's dmtask1 copied, then kept in sync.

use std::time::Duration;

use dm_tests::cluster::{create_source, dmctl, subtasks_of, wait_bound, Masters, Workers};
use dm_tests::tutorial::{self, Ports};
use dm_tests::{wait_until, MariaDb};

const DEADLINE: Duration = Duration::from_secs(60);

/// Waits until the downstream's `schema`.t1 equals the merged upstreams.
async fn wait_in_sync(upstreams: &[MariaDb], downstream: &MariaDb, schema: &str) {
    let expected = tutorial::merged_rows(upstreams, schema)
        .await
        .expect("upstream rows");
    tutorial::wait_rows(downstream, schema, &expected, DEADLINE)
        .await
        .expect("in sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tutorials_inserts_and_updates_arrive_downstream() {
    let dbs = tutorial::start_databases(Ports::Free)
        .await
        .expect("databases");
    for server in &dbs.upstreams {
        tutorial::run_sql(server, tutorial::DMTEST1_SQL)
            .await
            .expect("dmtest1");
    }
    let masters = Masters::start(3).expect("masters");
    let addrs = masters.client_addrs();
    masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, server) in dbs.upstreams.iter().enumerate() {
        create_source(
            &addrs,
            dir.path(),
            &format!("mysql{}", i + 1),
            server.port(),
        )
        .await
        .expect("source");
    }
    let _workers = Workers::start(3, &addrs, 2).expect("workers");
    for i in 1..=3 {
        wait_bound(&addrs, &format!("mysql{i}"), None, Duration::from_secs(20))
            .await
            .expect("bound");
    }
    let task = tutorial::task_file(dir.path(), "dmtask1.yaml", dbs.downstream.port(), "all")
        .expect("task file");
    let started = dmctl(&addrs, &["start-task", &task]).await.expect("answer");
    assert_eq!(started["result"], true, "{started}");

    // The copy, then every subtask in the sync unit.
    wait_until(
        "every subtask of dmtask1 syncing",
        DEADLINE,
        Duration::from_millis(100),
        || {
            let addrs = addrs.clone();
            async move {
                let answer = dmctl(&addrs, &["query-status", "dmtask1"]).await.ok()?;
                let subtasks = subtasks_of(&answer, "dmtask1");
                (subtasks.len() == 3
                    && subtasks
                        .iter()
                        .all(|(_, t)| t["stage"] == "Running" && t["unit"] == "Sync"))
                .then_some(())
            }
        },
    )
    .await
    .expect("syncing");
    wait_in_sync(&dbs.upstreams, &dbs.downstream, "dmtest1").await;

    // The tutorial's inserts, then its updates.
    for server in &dbs.upstreams {
        tutorial::run_sql(
            server,
            &["insert into dmtest1.t1 (id) select null from dmtest1.t1"],
        )
        .await
        .expect("insert");
    }
    wait_in_sync(&dbs.upstreams, &dbs.downstream, "dmtest1").await;
    assert_eq!(
        tutorial::merged_rows(&dbs.upstreams, "dmtest1")
            .await
            .expect("rows")
            .len(),
        2 * 3 * 256
    );
    for server in &dbs.upstreams {
        tutorial::run_sql(server, &["update dmtest1.t1 set c=md5(id), port=@@port"])
            .await
            .expect("update");
    }
    wait_in_sync(&dbs.upstreams, &dbs.downstream, "dmtest1").await;

    // query-status shows the sync's position and lag.
    let status = dmctl(&addrs, &["query-status", "dmtask1"])
        .await
        .expect("status");
    for (source, subtask) in subtasks_of(&status, "dmtask1") {
        let sync = &subtask["sync"];
        assert!(
            sync["syncerBinlog"]
                .as_str()
                .is_some_and(|b| b.contains("-bin.")),
            "{source}: {subtask}"
        );
        assert!(
            sync["secondsBehindMaster"].is_string(),
            "{source}: {subtask}"
        );
    }
}
